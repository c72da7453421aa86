// SPDX-License-Identifier: GPL-2.0
/*
 * bartoggle_pfnmap: a VM_PFNMAP mapping whose fault handler can be turned
 * off, so that KVM's fault path for a disabled vfio-pci BAR can be tested on
 * any x86 host with KVM: no device, no IOMMU. The uapi header says what
 * each ioctl does.
 *
 * It mirrors vfio-pci (drivers/vfio/pci/vfio_pci_core.c) where it matters:
 * the mapping is filled in lazily by vmf_insert_pfn() from the fault
 * handler, disabling takes the memory lock for writing and zaps every PTE
 * of every mapping with unmap_mapping_range() on a per-file address space,
 * and the fault handler, under the lock for reading, answers
 * VM_FAULT_SIGBUS while disabled.
 *
 * Lifetime: each open file owns its pages and its inode; a VMA holds its
 * file, so they are freed when the last mapping and descriptor are gone,
 * whatever KVM still has in a memslot (KVM only keeps the address; its
 * MMU notifier drops the SPTEs on the zap). An open file holds the module
 * (fops.owner), so rmmod is refused while anything maps it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>
#include <linux/rwsem.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "bartoggle_pfnmap.h"

#define BT_PFNMAP_FS_MAGIC	0x62747066	/* "btpf" */

static unsigned int default_pages = 256;
module_param(default_pages, uint, 0644);
MODULE_PARM_DESC(default_pages, "pages of a BAR not sized by BT_PFNMAP_IOC_SET_SIZE (default 256: 1 MiB)");

static unsigned int max_pages = 16384;
module_param(max_pages, uint, 0644);
MODULE_PARM_DESC(max_pages, "largest BAR in pages (default 16384: 64 MiB)");

/* Pages held by all files together: 0 whenever nothing is open (no leak). */
static atomic_long_t pages_live = ATOMIC_LONG_INIT(0);
static int pages_live_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&pages_live));
}
static const struct kernel_param_ops pages_live_ops = { .get = pages_live_get };
module_param_cb(pages_live, &pages_live_ops, NULL, 0444);
MODULE_PARM_DESC(pages_live, "pages held by open files and their mappings (read only)");

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

struct bt_bar {
	struct inode *inode;		/* its i_mapping is this BAR's alone */
	struct rw_semaphore mem_lock;	/* enabled vs. the fault handler */
	bool enabled;
	struct mutex size_lock;		/* pages vs. SET_SIZE and mmap */
	struct page **pages;
	unsigned long npages;
	atomic_t mapped;
	atomic64_t faults, inserted, declined, zaps;
};

/* Mounted while any file is open: simple_pin_fs() also holds the module. */
static struct vfsmount *bt_mnt;
static int bt_mnt_count;

static struct file_system_type bt_fs_type;

static void bt_bar_free_pages(struct bt_bar *bar)
{
	unsigned long i;

	for (i = 0; i < bar->npages; i++)
		__free_page(bar->pages[i]);
	atomic_long_sub(bar->npages, &pages_live);
	kvfree(bar->pages);
	bar->pages = NULL;
	bar->npages = 0;
}

/* Called with size_lock held. */
static int bt_bar_alloc_pages(struct bt_bar *bar, unsigned long npages)
{
	unsigned long i, w;

	bar->pages = kvcalloc(npages, sizeof(*bar->pages), GFP_KERNEL);
	if (!bar->pages)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		u32 *words;

		bar->pages[i] = alloc_page(GFP_KERNEL);
		if (!bar->pages[i]) {
			bar->npages = i;
			bt_bar_free_pages(bar);
			return -ENOMEM;
		}
		atomic_long_inc(&pages_live);
		words = page_address(bar->pages[i]);
		for (w = 0; w < PAGE_SIZE / sizeof(*words); w++)
			words[w] = BT_PFNMAP_PATTERN(i);
	}
	bar->npages = npages;
	return 0;
}

static vm_fault_t bt_fault(struct vm_fault *vmf)
{
	struct bt_bar *bar = vmf->vma->vm_private_data;
	vm_fault_t ret;

	atomic64_inc(&bar->faults);
	/* mmap() checked the range; pages cannot change while mapped. */
	if (vmf->pgoff >= bar->npages)
		return VM_FAULT_SIGBUS;
	down_read(&bar->mem_lock);
	if (!bar->enabled) {
		atomic64_inc(&bar->declined);
		ret = VM_FAULT_SIGBUS;
	} else {
		ret = vmf_insert_pfn(vmf->vma, vmf->address,
				     page_to_pfn(bar->pages[vmf->pgoff]));
		if (ret == VM_FAULT_NOPAGE)
			atomic64_inc(&bar->inserted);
	}
	up_read(&bar->mem_lock);
	return ret;
}

/* A VMA copied (fork) or split keeps the count of live mappings right. */
static void bt_vma_open(struct vm_area_struct *vma)
{
	struct bt_bar *bar = vma->vm_private_data;

	atomic_inc(&bar->mapped);
}

static void bt_vma_close(struct vm_area_struct *vma)
{
	struct bt_bar *bar = vma->vm_private_data;

	atomic_dec(&bar->mapped);
}

static const struct vm_operations_struct bt_vm_ops = {
	.open = bt_vma_open,
	.close = bt_vma_close,
	.fault = bt_fault,
};

static int bt_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bt_bar *bar = file->private_data;
	unsigned long end;
	int ret = 0;

	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;	/* as vfio-pci: no private copies of a BAR */
	mutex_lock(&bar->size_lock);
	if (!bar->pages)
		ret = bt_bar_alloc_pages(bar, min(default_pages, max_pages));
	if (ret)
		goto out;
	end = vma->vm_pgoff + vma_pages(vma);
	if (end < vma->vm_pgoff || end > bar->npages) {
		ret = -EINVAL;
		goto out;
	}
	vma->vm_private_data = bar;
	vma->vm_ops = &bt_vm_ops;
	vm_flags_set(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
	atomic_inc(&bar->mapped);
out:
	mutex_unlock(&bar->size_lock);
	return ret;
}

static int bt_set_size(struct bt_bar *bar, u64 size)
{
	int ret;

	if (!size || size % PAGE_SIZE || size / PAGE_SIZE > max_pages)
		return -EINVAL;
	mutex_lock(&bar->size_lock);
	if (atomic_read(&bar->mapped)) {
		ret = -EBUSY;
	} else {
		if (bar->pages)
			bt_bar_free_pages(bar);
		ret = bt_bar_alloc_pages(bar, size / PAGE_SIZE);
	}
	mutex_unlock(&bar->size_lock);
	return ret;
}

static void bt_set_enabled(struct bt_bar *bar, bool enable)
{
	down_write(&bar->mem_lock);
	if (!enable && bar->enabled) {
		/* What vfio_pci_zap_and_down_write_memory_lock() does. */
		unmap_mapping_range(bar->inode->i_mapping, 0, 0, true);
		atomic64_inc(&bar->zaps);
	}
	bar->enabled = enable;
	up_write(&bar->mem_lock);
}

static long bt_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct bt_bar *bar = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct bt_pfnmap_stats st;
	u32 version = BT_PFNMAP_API_VERSION;
	u64 size;

	switch (cmd) {
	case BT_PFNMAP_IOC_VERSION:
		return put_user(version, (u32 __user *)uarg);
	case BT_PFNMAP_IOC_SET_SIZE:
		if (get_user(size, (u64 __user *)uarg))
			return -EFAULT;
		return bt_set_size(bar, size);
	case BT_PFNMAP_IOC_DISABLE:
		bt_set_enabled(bar, false);
		return 0;
	case BT_PFNMAP_IOC_ENABLE:
		bt_set_enabled(bar, true);
		return 0;
	case BT_PFNMAP_IOC_STATS:
		memset(&st, 0, sizeof(st));
		st.faults = atomic64_read(&bar->faults);
		st.inserted = atomic64_read(&bar->inserted);
		st.declined = atomic64_read(&bar->declined);
		st.zaps = atomic64_read(&bar->zaps);
		st.enabled = READ_ONCE(bar->enabled);
		st.mapped = atomic_read(&bar->mapped);
		mutex_lock(&bar->size_lock);
		st.size = (u64)(bar->pages ? bar->npages : min(default_pages, max_pages)) * PAGE_SIZE;
		mutex_unlock(&bar->size_lock);
		return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
	}
	return -ENOTTY;
}

static int bt_open(struct inode *inode, struct file *file)
{
	struct bt_bar *bar = kzalloc(sizeof(*bar), GFP_KERNEL);
	int ret;

	if (!bar)
		return -ENOMEM;
	ret = simple_pin_fs(&bt_fs_type, &bt_mnt, &bt_mnt_count);
	if (ret) {
		kfree(bar);
		return ret;
	}
	/*
	 * The device node's inode is shared by every opener; zapping its
	 * mapping would disable every BAR at once. One anonymous inode per
	 * file, as vfio does per device since 6.12.
	 */
	bar->inode = alloc_anon_inode(bt_mnt->mnt_sb);
	if (IS_ERR(bar->inode)) {
		ret = PTR_ERR(bar->inode);
		simple_release_fs(&bt_mnt, &bt_mnt_count);
		kfree(bar);
		return ret;
	}
	init_rwsem(&bar->mem_lock);
	mutex_init(&bar->size_lock);
	bar->enabled = true;
	file->f_mapping = bar->inode->i_mapping;
	file->private_data = bar;
	return nonseekable_open(inode, file);
}

/* Only after the last VMA is gone: each holds the file. */
static int bt_release(struct inode *inode, struct file *file)
{
	struct bt_bar *bar = file->private_data;

	if (bar->pages)
		bt_bar_free_pages(bar);
	iput(bar->inode);
	simple_release_fs(&bt_mnt, &bt_mnt_count);
	kfree(bar);
	return 0;
}

static const struct file_operations bt_fops = {
	.owner = THIS_MODULE,
	.open = bt_open,
	.release = bt_release,
	.mmap = bt_mmap,
	.unlocked_ioctl = bt_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice bt_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = BT_PFNMAP_MODULE,
	.fops = &bt_fops,
	.mode = 0600,
};

static int bt_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, BT_PFNMAP_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type bt_fs_type = {
	.name = BT_PFNMAP_MODULE,
	.owner = THIS_MODULE,
	.init_fs_context = bt_init_fs_context,
	.kill_sb = kill_anon_super,
};

static int __init bt_pfnmap_init(void)
{
	int ret = misc_register(&bt_misc);

	if (ret)
		return ret;
	pr_info("API %d, %u pages per BAR by default\n", BT_PFNMAP_API_VERSION,
		default_pages);
	return 0;
}

static void __exit bt_pfnmap_exit(void)
{
	misc_deregister(&bt_misc);
	/* Unreachable by refcounting; says so loudly if that ever breaks. */
	WARN_ON(atomic_long_read(&pages_live));
}

module_init(bt_pfnmap_init);
module_exit(bt_pfnmap_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("bartoggle: a VM_PFNMAP BAR stand-in whose fault handler can be disabled");
MODULE_VERSION("1");
