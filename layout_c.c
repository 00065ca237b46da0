// SPDX-License-Identifier: GPL-2.0
/*
 * C's side of layout.rs: the size, alignment and field offsets of every C struct the module
 * (or a kernel-crate method it calls) reads, writes or embeds through `kernel::bindings`, as
 * the C compiler lays them out with the module's own C flags.
 *
 * Never linked: Kbuild compiles this file to assembly only (layout_c.s), in the way of the
 * kernel's asm-offsets, and turns each marker below into one line of layout_c.rs, a build
 * product that layout.rs includes and checks with `const` assertions. A layout that bindgen
 * got wrong (README, "bindgen and empty aligned structs") stops the build, naming the struct
 * and the field.
 *
 * THIS LIST MUST GROW WITH THE CODE: a new `bindings::` struct that Rust embeds or sizes, a new
 * field read or written through a raw pointer (`(*f).f_op`), a new kernel-crate method that
 * does so on our behalf: one line here. One line per struct, one per field:
 *   STRUCT(name)              struct name              <-> bindings::name
 *   TYPEDEF(name)             the typedef name         <-> bindings::name
 *   FIELD(name, member)       struct name's member     <-> the same path in Rust
 *   FIELD_AS(name, member, rust.path)   when bindgen names the path differently (anonymous
 *                             unions and structs become `__bindgen_anon_N`)
 *   TFIELD(name, member)      a field of the typedef name
 */
#include <linux/build_bug.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fs.h>
#include <linux/eventpoll.h>
#include <linux/lockdep_types.h>
#include <linux/miscdevice.h>
#include <linux/mm_types.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/rbtree.h>
#include <linux/sched.h>
#include <linux/sched/user.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/seq_file.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>
#include <linux/sysinfo.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

/* "->size <rust name> <size> <align>" and "->offset <rust name> <rust path> <offset> <C path>" */
#define LAYOUT_SIZE(rs, ctype)                                                        \
	asm volatile("\n.ascii \"->size " #rs " %0 %1\"" : :                          \
		     "i" (sizeof(ctype)), "i" (__alignof__(ctype)))
#define LAYOUT_OFFSET(rs, ctype, member, rspath)                                      \
	asm volatile("\n.ascii \"->offset " #rs " " #rspath " %0 " #member "\"" : :   \
		     "i" (offsetof(ctype, member)))

#define STRUCT(name)			LAYOUT_SIZE(name, struct name)
#define TYPEDEF(name)			LAYOUT_SIZE(name, name)
#define FIELD(name, member)		LAYOUT_OFFSET(name, struct name, member, member)
#define FIELD_AS(name, member, rspath)	LAYOUT_OFFSET(name, struct name, member, rspath)
#define TFIELD(name, member)		LAYOUT_OFFSET(name, name, member, member)

void rust_epoll_layout(void);

void rust_epoll_layout(void)
{
	/* Files: device.rs (f_op, private_data), epitem.rs (private_data of an instance),
	 * introspect.rs (f_inode, f_pos), limits.rs (f_cred), waitqueue.rs (f_op->poll);
	 * inode.i_private and file.private_data are also read by kernel::debugfs's file
	 * operations. (f_path's dentry is read in C only, by helpers.c.) */
	STRUCT(file);
	FIELD(file, f_op);
	FIELD(file, private_data);
	FIELD(file, f_inode);
	FIELD(file, f_pos);
	FIELD(file, f_cred);
	STRUCT(inode);
	FIELD(inode, i_ino);
	FIELD(inode, i_sb);
	FIELD(inode, i_private);
	STRUCT(super_block);
	FIELD(super_block, s_dev);
	STRUCT(seq_file);
	FIELD(seq_file, private);

	/* file_operations built in Rust: ours, a static (device.rs), and the one
	 * kernel::debugfs builds for our debugfs files (read, llseek, release, open): the size
	 * and every member set. */
	STRUCT(file_operations);
	FIELD(file_operations, owner);
	FIELD(file_operations, llseek);
	FIELD(file_operations, read);
	FIELD(file_operations, unlocked_ioctl);
	FIELD(file_operations, poll);
	FIELD(file_operations, open);
	FIELD(file_operations, release);
	FIELD(file_operations, show_fdinfo);
	FIELD(file_operations, compat_ioctl);
	FIELD(file_operations, mmap);
	/* The ring's mmap (ring.rs reads vm_pgoff; kernel::mm::virt's VmaNew reads the flags,
	 * start and end and writes the flags). vm_start and vm_end, the first two words of an
	 * anonymous struct in an anonymous union, are left out: their Rust path makes a line
	 * longer than rustfmt keeps on one, and the size and the fields after them are checked. */
	STRUCT(vm_area_struct);
	FIELD_AS(vm_area_struct, vm_flags, __bindgen_anon_2.vm_flags);
	FIELD(vm_area_struct, vm_pgoff);
	STRUCT(miscdevice);
	FIELD(miscdevice, minor);
	FIELD(miscdevice, name);
	FIELD(miscdevice, fops);
	FIELD(miscdevice, mode);

	/* The module parameter: the kernel crate's module! macro builds a kernel_param in our
	 * crate (placed in the __param section, an array C walks), with ops from the kernel
	 * crate's PARAM_OPS_U64. */
	STRUCT(kernel_param);
	FIELD(kernel_param, name);
	FIELD_AS(kernel_param, mod, mod_);
	FIELD(kernel_param, ops);
	FIELD(kernel_param, perm);
	FIELD(kernel_param, level);
	FIELD(kernel_param, flags);
	FIELD_AS(kernel_param, arg, __bindgen_anon_1.arg);
	STRUCT(kernel_param_ops);
	FIELD(kernel_param_ops, flags);
	FIELD(kernel_param_ops, set);
	FIELD(kernel_param_ops, get);
	FIELD(kernel_param_ops, free);

	/* The per-user watch counter (limits.rs). */
	STRUCT(cred);
	FIELD(cred, user);
	STRUCT(user_struct);
	FIELD(user_struct, __count);
	FIELD(user_struct, epoll_watches);
	STRUCT(percpu_counter);
	STRUCT(sysinfo);
	FIELD(sysinfo, totalram);
	FIELD(sysinfo, totalhigh);

	/* Wait queues, polling (waitqueue.rs, epitem.rs, eventpoll.rs). */
	STRUCT(wait_queue_head);
	FIELD(wait_queue_head, head);
	STRUCT(wait_queue_entry);
	FIELD(wait_queue_entry, flags);
	FIELD(wait_queue_entry, private);
	FIELD(wait_queue_entry, func);
	FIELD(wait_queue_entry, entry);
	TYPEDEF(poll_table);
	TFIELD(poll_table, _qproc);
	TFIELD(poll_table, _key);

	/* The records WAIT writes (uapi.rs checks its EpollEvent against bindings::epoll_event,
	 * which this checks against C), the slab cache's arguments (cache.rs), the key of
	 * debugfs's address hashes (introspect.rs). */
	STRUCT(epoll_event);
	FIELD(epoll_event, events);
	FIELD(epoll_event, data);
	STRUCT(kmem_cache_args);
	FIELD(kmem_cache_args, align);
	TYPEDEF(siphash_key_t);
	TFIELD(siphash_key_t, key);

	/* Intrusive nodes embedded in our structs (rbtree.rs, ready.rs, release.rs, list.rs). */
	STRUCT(list_head);
	FIELD(list_head, next);
	FIELD(list_head, prev);
	STRUCT(rb_node);
	FIELD(rb_node, __rb_parent_color);
	FIELD(rb_node, rb_right);
	FIELD(rb_node, rb_left);
	STRUCT(rb_root);
	FIELD(rb_root, rb_node);

	/* C objects embedded in Rust memory, initialised by C: our work items and locks, and the
	 * kernel crate's Mutex/SpinLock (bindings::mutex, spinlock_t) and lock class keys. */
	STRUCT(work_struct);
	STRUCT(mutex);
	TYPEDEF(spinlock_t);
	TYPEDEF(raw_spinlock_t);
	STRUCT(lock_class_key);
	/* bindgen makes spinlock_t opaque: irqlock.rs and release.rs take its raw lock at
	 * offset 0, which only C can check. */
	BUILD_BUG_ON(offsetof(spinlock_t, rlock) != 0);

	/* task_struct, whose layout bindgen got wrong without CONFIG_SCHEDSTATS: its size, and
	 * the fields kernel::task::Task reads in Rust (pid(), tgid(), mm(), group_leader()). The
	 * module calls none of them today (only C-backed ones), but the kernel crate's view of
	 * `current` must be right for any that a rewrite adds. */
	STRUCT(task_struct);
	FIELD(task_struct, pid);
	FIELD(task_struct, tgid);
	FIELD(task_struct, mm);
	FIELD(task_struct, group_leader);
}
