// SPDX-License-Identifier: GPL-2.0

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

struct user_struct *kiovec_helper_get_current_user(void)
{
	return get_uid(current_user());
}

unsigned long kiovec_helper_rlimit(unsigned int limit)
{
	return rlimit(limit);
}

bool kiovec_helper_capable_ipc_lock(void)
{
	/* As io_uring: no audit record for a check that only lifts a limit. */
	return ns_capable_noaudit(&init_user_ns, CAP_IPC_LOCK);
}

long kiovec_helper_user_locked_vm_read(struct user_struct *user)
{
	return atomic_long_read(&user->locked_vm);
}

bool kiovec_helper_user_locked_vm_try_cmpxchg(struct user_struct *user, long *old, long new)
{
	return atomic_long_try_cmpxchg(&user->locked_vm, old, new);
}

void kiovec_helper_user_locked_vm_sub(struct user_struct *user, long nr)
{
	atomic_long_sub(nr, &user->locked_vm);
}

struct mm_struct *kiovec_helper_current_mm_grab(void)
{
	struct mm_struct *mm = current->mm;

	if (mm)
		mmgrab(mm);
	return mm;
}

void kiovec_helper_mmdrop(struct mm_struct *mm)
{
	mmdrop(mm);
}

void kiovec_helper_mm_pinned_vm_add(struct mm_struct *mm, s64 nr)
{
	atomic64_add(nr, &mm->pinned_vm);
}

unsigned long kiovec_helper_copy_page_to_user(void __user *to, struct page *page,
					      size_t offset, size_t len)
{
	void *from = kmap_local_page(page);
	unsigned long left = copy_to_user(to, from + offset, len);

	kunmap_local(from);
	return left;
}

unsigned long kiovec_helper_clear_user(void __user *to, size_t len)
{
	return clear_user(to, len);
}

bool kiovec_helper_sleep_tick_interruptible(void)
{
	schedule_timeout_interruptible(1);
	return signal_pending(current);
}

void kiovec_helper_cond_resched(void)
{
	cond_resched();
}
