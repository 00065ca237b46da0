//! The checked-in uapi against the C header: every size, offset and ioctl number.
use rust_epoll::uapi::*;
use std::{mem::size_of, path::Path, process::Command};

#[test]
fn uapi_matches_header() {
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/uapi");
    let dir = std::env::temp_dir().join(format!("rust_epoll_uapi_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("layout.c");
    std::fs::write(
        &src,
        r#"#include <stdio.h>
#include <stddef.h>
#include "rust_epoll.h"
#define P(x) printf("%s %lu\n", #x, (unsigned long)(x))
int main(void) {
    P(sizeof(struct rust_epoll_event)); P(offsetof(struct rust_epoll_event, data));
    P(sizeof(struct rust_epoll_ctl)); P(offsetof(struct rust_epoll_ctl, data));
    P(sizeof(struct rust_epoll_wait)); P(offsetof(struct rust_epoll_wait, timeout_ns));
    P(offsetof(struct rust_epoll_wait, sigsetsize));
    P(sizeof(struct rust_epoll_ctl_batch)); P(offsetof(struct rust_epoll_ctl_batch, wait));
    P(offsetof(struct rust_epoll_ctl_batch, error));
    P(RUST_EPOLL_CTL); P(RUST_EPOLL_WAIT); P(RUST_EPOLL_CTL_BATCH);
    P(RUST_EPOLL_WAIT_NSEC); P(RUST_EPOLL_BATCH_MAX); P(RUST_EPOLL_BATCH_WAIT);
    P(RUST_EPOLL_BATCH_RECEIPT); P(sizeof(struct rust_epoll_wait_min));
    P(offsetof(struct rust_epoll_wait_min, min_events));
    P(offsetof(struct rust_epoll_wait_min, min_wait_us)); P(RUST_EPOLL_WAIT_MIN);
    P(sizeof(struct rust_epoll_params)); P(offsetof(struct rust_epoll_params, prefer_busy_poll));
    P(offsetof(struct rust_epoll_params, __pad)); P(RUST_EPOLL_SPARAMS); P(RUST_EPOLL_GPARAMS);
    P(sizeof(struct rust_epoll_ring_setup)); P(offsetof(struct rust_epoll_ring_setup, mmap_size));
    P(sizeof(struct rust_epoll_ring)); P(offsetof(struct rust_epoll_ring, tail));
    P(offsetof(struct rust_epoll_ring, flags)); P(offsetof(struct rust_epoll_ring, overflow));
    P(offsetof(struct rust_epoll_ring, entries)); P(RUST_EPOLL_RING_SETUP);
    P(RUST_EPOLL_RING_MAX_ENTRIES); P(RUST_EPOLL_RING_NEED_WAIT); P(RUST_EPOLL_RING_RECORDS_OFF);
    return 0;
}"#,
    )
    .unwrap();
    let exe = dir.join("layout");
    let cc = Command::new("cc")
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("a C compiler (cc) is needed for this test");
    assert!(cc.success());
    let out = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let c: Vec<u64> = out.lines().map(|l| l.rsplit(' ').next().unwrap().parse().unwrap()).collect();
    let rust: Vec<u64> = vec![
        size_of::<RustEpollEvent>() as u64,
        core::mem::offset_of!(RustEpollEvent, data) as u64,
        size_of::<RustEpollCtl>() as u64,
        core::mem::offset_of!(RustEpollCtl, data) as u64,
        size_of::<RustEpollWait>() as u64,
        core::mem::offset_of!(RustEpollWait, timeout_ns) as u64,
        core::mem::offset_of!(RustEpollWait, sigsetsize) as u64,
        size_of::<RustEpollCtlBatch>() as u64,
        core::mem::offset_of!(RustEpollCtlBatch, wait) as u64,
        core::mem::offset_of!(RustEpollCtlBatch, error) as u64,
        RUST_EPOLL_CTL as u64,
        RUST_EPOLL_WAIT as u64,
        RUST_EPOLL_CTL_BATCH as u64,
        RUST_EPOLL_WAIT_NSEC as u64,
        RUST_EPOLL_BATCH_MAX as u64,
        RUST_EPOLL_BATCH_WAIT as u64,
        RUST_EPOLL_BATCH_RECEIPT as u64,
        size_of::<RustEpollWaitMin>() as u64,
        core::mem::offset_of!(RustEpollWaitMin, min_events) as u64,
        core::mem::offset_of!(RustEpollWaitMin, min_wait_us) as u64,
        RUST_EPOLL_WAIT_MIN as u64,
        size_of::<RustEpollParams>() as u64,
        core::mem::offset_of!(RustEpollParams, prefer_busy_poll) as u64,
        core::mem::offset_of!(RustEpollParams, pad) as u64,
        RUST_EPOLL_SPARAMS as u64,
        RUST_EPOLL_GPARAMS as u64,
        size_of::<RustEpollRingSetup>() as u64,
        core::mem::offset_of!(RustEpollRingSetup, mmap_size) as u64,
        size_of::<RustEpollRing>() as u64,
        core::mem::offset_of!(RustEpollRing, tail) as u64,
        core::mem::offset_of!(RustEpollRing, flags) as u64,
        core::mem::offset_of!(RustEpollRing, overflow) as u64,
        core::mem::offset_of!(RustEpollRing, entries) as u64,
        RUST_EPOLL_RING_SETUP as u64,
        RUST_EPOLL_RING_MAX_ENTRIES as u64,
        RUST_EPOLL_RING_NEED_WAIT as u64,
        RUST_EPOLL_RING_RECORDS_OFF as u64,
    ];
    assert_eq!(c, rust, "C header (left) and Rust uapi (right) differ:\n{out}");
    std::fs::remove_dir_all(&dir).ok();
}
