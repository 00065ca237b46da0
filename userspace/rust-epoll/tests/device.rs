//! The crate against the real device. Ignored by a plain `cargo test` (no device on the
//! host); `make check` runs them inside the VM with `--ignored`.
use rust_epoll::{BusyPollParams, CtlOp, Epoll, EventFlags, Events};
use std::{
    io::{ErrorKind, Read, Write},
    os::{fd::AsFd, unix::net::UnixStream},
    time::{Duration, Instant},
};

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn add_wait_modify_delete() {
    let ep = Epoll::new().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let mut events = Events::with_capacity(8);
    ep.add(&b, EventFlags::IN, 42).unwrap();
    assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    assert!(events.is_empty());
    a.write_all(b"x").unwrap();
    assert_eq!(ep.wait(&mut events, None).unwrap(), 1);
    let ev = events.iter().next().unwrap();
    assert_eq!(ev.data(), 42);
    assert_eq!(ev.flags(), EventFlags::IN);
    ep.modify(&b, EventFlags::OUT, 43).unwrap();
    assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!((&events).into_iter().next().unwrap().data(), 43);
    ep.delete(&b).unwrap();
    assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    let mut buf = [0u8; 1];
    b.read_exact(&mut buf).unwrap();
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn errors_carry_the_kernels_errno() {
    let ep = Epoll::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    assert_eq!(ep.delete(&b).unwrap_err().raw_os_error(), Some(libc::ENOENT));
    ep.add(&b, EventFlags::IN, 0).unwrap();
    assert_eq!(ep.add(&b, EventFlags::IN, 0).unwrap_err().kind(), ErrorKind::AlreadyExists);
    assert_eq!(ep.add(&ep, EventFlags::IN, 0).unwrap_err().raw_os_error(), Some(libc::EINVAL));
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn timeout_is_honoured() {
    let ep = Epoll::new().unwrap();
    let mut events = Events::with_capacity(1);
    let t0 = Instant::now();
    assert_eq!(ep.wait(&mut events, Some(Duration::from_millis(50))).unwrap(), 0);
    let dt = t0.elapsed();
    assert!(dt >= Duration::from_millis(50) && dt < Duration::from_secs(1), "{dt:?}");
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn batch_applies_in_order_and_reports_the_failure() {
    let ep = Epoll::new().unwrap();
    let pairs: Vec<(UnixStream, UnixStream)> = (0..3).map(|_| UnixStream::pair().unwrap()).collect();
    let fds: Vec<_> = pairs.iter().map(|(_, b)| b.as_fd()).collect();
    ep.ctl_batch(&[CtlOp::Add(fds[0], EventFlags::IN, 0), CtlOp::Add(fds[1], EventFlags::IN, 1)])
        .unwrap();
    let err = ep
        .ctl_batch(&[
            CtlOp::Add(fds[2], EventFlags::IN, 2),
            CtlOp::Add(fds[0], EventFlags::IN, 0),
            CtlOp::Delete(fds[1]),
        ])
        .unwrap_err();
    assert_eq!(err.applied, 1);
    assert_eq!(err.error.raw_os_error(), Some(libc::EEXIST));
    ep.delete(fds[2]).unwrap(); // applied before the failure
    ep.delete(fds[1]).unwrap(); // after it: not applied, still there
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn instance_is_pollable_by_another() {
    let outer = Epoll::new().unwrap();
    let inner = Epoll::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    inner.add(&b, EventFlags::IN, 1).unwrap();
    outer.add(&inner, EventFlags::IN, 2).unwrap();
    a.write_all(b"x").unwrap();
    let mut events = Events::with_capacity(4);
    assert_eq!(outer.wait(&mut events, Some(Duration::from_secs(1))).unwrap(), 1);
    assert_eq!(events.iter().next().unwrap().data(), 2);
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn busy_poll_params_round_trip() {
    let ep = Epoll::new().unwrap();
    assert_eq!(ep.busy_poll_params().unwrap(), BusyPollParams::default());
    let p = BusyPollParams {
        busy_poll_usecs: 25,
        busy_poll_budget: 16,
        prefer_busy_poll: true,
    };
    ep.set_busy_poll_params(&p).unwrap();
    assert_eq!(ep.busy_poll_params().unwrap(), p);
    let bad = BusyPollParams {
        busy_poll_usecs: i32::MAX as u32 + 1,
        ..p
    };
    assert_eq!(ep.set_busy_poll_params(&bad).unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(ep.busy_poll_params().unwrap(), p);
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn ring_harvests_edge_triggered_events() {
    let ep = Epoll::new().unwrap();
    let ring = ep.setup_ring(64).unwrap();
    assert_eq!(ring.capacity(), 64);
    assert_eq!(ep.setup_ring(64).unwrap_err().raw_os_error(), Some(libc::EBUSY));
    let (mut a, b) = UnixStream::pair().unwrap();
    ep.add(&b, EventFlags::IN | EventFlags::ET, 9).unwrap();
    assert!(ring.is_empty());
    a.write_all(b"x").unwrap();
    a.write_all(b"y").unwrap();
    assert_eq!(ring.len(), 1, "one record per watch until consumed");
    let mut events = Events::with_capacity(4);
    // WAIT returns at once while the ring holds records.
    assert_eq!(ep.wait(&mut events, None).unwrap(), 0);
    let got: Vec<_> = ring.drain().collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data(), 9);
    assert_eq!(got[0].flags(), EventFlags::IN);
    assert!(!ring.needs_wait());
    // A level-triggered watch goes through WAIT, which the ring's flag says.
    let (mut c, d) = UnixStream::pair().unwrap();
    ep.add(&d, EventFlags::IN, 10).unwrap();
    c.write_all(b"z").unwrap();
    assert!(ring.is_empty());
    assert!(ring.needs_wait());
    assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 1);
    assert_eq!(events.iter().next().unwrap().data(), 10);
    // The ring outlives the instance's fd: the mapping holds it.
    drop(ep);
    a.write_all(b"w").unwrap();
    assert_eq!(ring.drain().map(|e| e.data()).collect::<Vec<_>>(), vec![9]);
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn receipt_batch_reports_every_result() {
    let ep = Epoll::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    let (_c, d) = UnixStream::pair().unwrap();
    let res = ep
        .ctl_batch_receipt(&[
            CtlOp::Add(b.as_fd(), EventFlags::IN, 0),
            CtlOp::Add(b.as_fd(), EventFlags::IN, 0),
            CtlOp::Delete(d.as_fd()),
            CtlOp::Add(d.as_fd(), EventFlags::OUT, 1),
        ])
        .unwrap();
    assert_eq!(res.len(), 4);
    assert!(res[0].is_ok());
    assert_eq!(res[1].as_ref().unwrap_err().raw_os_error(), Some(libc::EEXIST));
    assert_eq!(res[2].as_ref().unwrap_err().raw_os_error(), Some(libc::ENOENT));
    assert!(res[3].is_ok());
    ep.delete(&b).unwrap();
    ep.delete(&d).unwrap();
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn wait_min_both_ends() {
    let ep = Epoll::new().unwrap();
    let pairs: Vec<(UnixStream, UnixStream)> = (0..4).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (_, b)) in pairs.iter().enumerate() {
        ep.add(b, EventFlags::IN, i as u64).unwrap();
    }
    let mut events = Events::with_capacity(8);
    // Fewer than the minimum: returns when the minimum time is up, with what is ready.
    (&pairs[0].0).write_all(b"x").unwrap();
    let t0 = Instant::now();
    let n = ep
        .wait_min(&mut events, Some(Duration::from_secs(10)), 4, Duration::from_millis(200))
        .unwrap();
    assert_eq!(n, 1);
    assert!(t0.elapsed() >= Duration::from_millis(200), "{:?}", t0.elapsed());
    // The minimum reached: at once.
    for (a, _) in &pairs[1..] {
        (&*a).write_all(b"x").unwrap();
    }
    let t0 = Instant::now();
    let n = ep
        .wait_min(&mut events, Some(Duration::from_secs(10)), 4, Duration::from_secs(10))
        .unwrap();
    assert_eq!(n, 4);
    assert!(t0.elapsed() < Duration::from_secs(5));
    let err = ep.wait_min(&mut events, Some(Duration::ZERO), 9, Duration::from_millis(1)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn ring_overflow_goes_to_wait() {
    let ep = Epoll::new().unwrap();
    let ring = ep.setup_ring(1).unwrap();
    let pairs: Vec<(UnixStream, UnixStream)> = (0..3).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (_, b)) in pairs.iter().enumerate() {
        ep.add(b, EventFlags::IN | EventFlags::ET, i as u64).unwrap();
    }
    for (a, _) in &pairs {
        (&*a).write_all(b"x").unwrap();
    }
    assert_eq!(ring.len(), 1);
    assert_eq!(ring.overflow_count(), 2);
    assert!(ring.needs_wait());
    let mut events = Events::with_capacity(8);
    assert_eq!(ep.wait(&mut events, Some(Duration::ZERO)).unwrap(), 2);
    assert!(!ring.needs_wait());
    let mut seen: Vec<u64> = events.iter().map(|e| e.data()).chain(ring.drain().map(|e| e.data())).collect();
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2]);
}

#[test]
#[ignore = "needs /dev/rust_epoll (run in the VM)"]
fn ring_consumed_by_two_threads() {
    let ep = Epoll::new().unwrap();
    let ring = std::sync::Arc::new(ep.setup_ring(256).unwrap());
    let pairs: Vec<(UnixStream, UnixStream)> = (0..200).map(|_| UnixStream::pair().unwrap()).collect();
    for (i, (_, b)) in pairs.iter().enumerate() {
        ep.add(b, EventFlags::IN | EventFlags::ET, i as u64).unwrap();
    }
    for (a, _) in &pairs {
        (&*a).write_all(b"x").unwrap();
    }
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let ring = ring.clone();
            std::thread::spawn(move || ring.drain().map(|e| e.data()).collect::<Vec<_>>())
        })
        .collect();
    let mut seen: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (0..200).collect::<Vec<u64>>());
}
