#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tests/race_widen.py DIR VARIANT: widens, in the copy of the module's sources in DIR, the
windows of the race that `both.path_limits_hold_under_a_race` (exactness_test.c) looks for,
so that the test finds it in seconds where unaided it finds it about once in tens of
thousands of raced pairs. VARIANT is `ours` (ctl.rs's test as it is) or `c_order` (the test
reading "watched" before the generation, as fs/eventpoll.c's ep_ctl_lock() does, which is
sound in C only because C's poll of an instance waits for its mtx). Three edits:

- a plain ADD (the pipe into E) waits 0-5 ms before taking E's mtx, varied from one call to
  the next, so that the racing nested ADD (E into P) visits E first in some rounds;
- the nested ADD sleeps 1 ms between its visit of E (the loop check) and indexing its new
  watch of E, so that the plain ADD can read "E not watched" meanwhile;
- the plain ADD sleeps 1 ms between the two loads of its test, so that the nested ADD's check
  can end meanwhile.

VARIANT `mod_gap` or `mod_gap_old` widens the callback's window before it takes `ready` (100
ms, on a ring instance), which `rg.a_wake_up_racing_a_mod_reports_the_new_mask` (ring_test.c)
looks for: `mod_gap` reads the item's mask under `ready` (the code as it is), `mod_gap_old`
before it (the code before 2026-12-03), so that a MOD in the window leaves the callback the
old mask with the new data.

VARIANT `wake_gap` or `wake_gap_old` widens instead the window that
`exact.an_exclusive_wake_up_counted_reaches_a_waiter` (exactness_test.c) looks for: the callback
(eventpoll.rs, item_ready) spins 400 ms between its check for a waiter under `ready` and its
wake-up of `wq`; `wake_gap` keeps the wake-up's own answer as ewake (the code as it is),
`wake_gap_old` answers with the check (the code before 2026-12-03).

Each anchor must be found exactly once: a change to ctl.rs or eventpoll.rs that moves one fails
here, loudly, instead of widening nothing. Run by tests/host-check; the copies run in
tests/race_widen.sh.
"""
import sys

src, variant = sys.argv[1], sys.argv[2]

SLEEP = "kernel::time::delay::fsleep(kernel::time::Delta::from_micros(1000))"
TEST = "(target.child.is_some() || self.memo().in_check() || self.head().is_watched())"
ctl_edits = [
    (
        "        let mut tree = self.lock_tree_reaped(0);\n        let mut check = None;\n",
        "        if args.op == EPOLL_CTL_ADD && target.child.is_none() {\n"
        "            static SWEEP: kernel::sync::atomic::Atomic<i64> = kernel::sync::atomic::Atomic::new(0);\n"
        "            let n = SWEEP.load(kernel::sync::atomic::Relaxed);\n"
        "            SWEEP.store(n + 37, kernel::sync::atomic::Relaxed);\n"
        "            kernel::time::delay::udelay(kernel::time::Delta::from_micros(n % 5000));\n"
        "        }\n"
        "        let mut tree = self.lock_tree_reaped(0);\n        let mut check = None;\n",
    ),
    (
        "                full.loop_check(self, child)?;\n",
        "                full.loop_check(self, child)?;\n                " + SLEEP + ";\n",
    ),
    (
        TEST,
        {
            "ours": "(target.child.is_some() || self.memo().in_check() || { "
            + SLEEP + "; self.head().is_watched() })",
            "c_order": "(self.head().is_watched() || { "
            + SLEEP + "; self.memo().in_check() } || target.child.is_some())",
        }.get(variant, TEST),
    ),
]
WAKE = "        let woke = wake && self.wq.wake_up_found(sync);\n"
SPIN = (
    "        if wake {\n"
    "            for _ in 0..400 {\n"
    "                kernel::time::delay::udelay(kernel::time::Delta::from_micros(1000));\n"
    "            }\n"
    "        }\n"
)
LOCKED = "        let (events, wake, pwake) = {\n            let mut ready = self.ready.lock();\n"
READ = "            let events = epi.events_lockless();\n"
RING_SPIN = (
    "        if self.ring.is_set() {\n"
    "            for _ in 0..100 {\n"
    "                kernel::time::delay::udelay(kernel::time::Delta::from_micros(1000));\n"
    "            }\n"
    "        }\n"
)
wake_edits = {
    "wake_gap": [(WAKE, SPIN + WAKE)],
    "wake_gap_old": [(WAKE, SPIN + "        let woke = wake;\n        let _ = wake && self.wq.wake_up_found(sync);\n")],
    # The callback's window before it takes `ready`, held open 100 ms on a ring instance:
    # mod_gap reads the mask after (the code as it is), mod_gap_old before (the code before
    # 2026-12-03), so that a MOD in the window leaves it the old mask.
    "mod_gap": [(LOCKED, RING_SPIN + LOCKED)],
    "mod_gap_old": [
        (LOCKED, "        let stale = epi.events_lockless();\n" + RING_SPIN + LOCKED),
        (READ, "            let events = stale;\n"),
    ],
}

if variant in wake_edits:
    name, edits = "eventpoll.rs", wake_edits[variant]
else:
    name, edits = "ctl.rs", ctl_edits
path = src + "/" + name
text = open(path).read()
for old, new in edits:
    if text.count(old) != 1:
        sys.exit(f"race_widen.py: anchor found {text.count(old)} times in {name}: {old.strip()[:60]}")
    text = text.replace(old, new)
open(path, "w").write(text)
