// SPDX-License-Identifier: GPL-2.0

//! The layout check: the module does not build if `kernel::bindings` lays out a C struct it
//! uses differently from the C compiler.
//!
//! bindgen is not always right (README, "bindgen and empty aligned structs": on a kernel
//! without `CONFIG_SCHEDSTATS`, `bindings::task_struct` is 64 bytes shorter than C's), and the
//! kernel runs it with `--no-layout-tests`, so nothing else would notice. `layout_c.c` lists
//! every struct the module (or a kernel-crate method it calls) embeds, sizes or reads through
//! `bindings`, with every field it touches; Kbuild compiles it with the module's C flags and
//! turns C's answers into `layout_c.rs`, a build product included below, whose lines are
//! `size!(struct, size, align);` and `offset!(struct, rust.path, offset, "c.path");`. Each is
//! a `const` assertion: a mismatch is a compile error naming the struct and the field.
//!
//! The list is in `layout_c.c` and must grow with the code: see there.

use core::mem::{align_of, offset_of, size_of};
use kernel::bindings;

/// `bindings::$t` has C's size and alignment.
macro_rules! size {
    ($t:ident, $size:literal, $align:literal) => {
        const _: () = assert!(
            size_of::<bindings::$t>() == $size,
            concat!(
                "layout: size_of::<bindings::",
                stringify!($t),
                ">() differs from C's sizeof, ",
                stringify!($size),
                " (bindgen and C disagree: see layout.rs)"
            )
        );
        const _: () = assert!(
            align_of::<bindings::$t>() == $align,
            concat!(
                "layout: align_of::<bindings::",
                stringify!($t),
                ">() differs from C's alignof, ",
                stringify!($align),
                " (bindgen and C disagree: see layout.rs)"
            )
        );
    };
}

/// The field at `$($f).+` of `bindings::$t` is at C's offset (`$c` is C's name for it).
macro_rules! offset {
    ($t:ident, $($f:ident).+, $off:literal, $c:literal) => {
        const _: () = assert!(
            offset_of!(bindings::$t, $($f).+) == $off,
            concat!(
                "layout: offset_of!(bindings::",
                stringify!($t),
                ", ",
                stringify!($($f).+),
                ") differs from C's offsetof(",
                stringify!($t),
                ", ",
                $c,
                "), ",
                stringify!($off),
                " (bindgen and C disagree: see layout.rs)"
            )
        );
    };
}

include!("layout_c.rs");
