/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * bartoggle_pfnmap: a misc device standing in for a PCI BAR mapped through
 * vfio-pci. Each open file is one "BAR": N pages of the module's own memory,
 * mmap()ed as VM_IO | VM_PFNMAP and filled in by the fault handler
 * (vmf_insert_pfn). DISABLE does what vfio-pci does when the guest clears
 * PCI_COMMAND.MEM: every PTE of every mapping of that file is zapped and the
 * fault handler declines (VM_FAULT_SIGBUS) until ENABLE. KVM then takes the
 * same path as for a disabled vfio BAR: hva_to_pfn_remapped() ->
 * fixup_user_fault() fails -> kvm_handle_error_pfn().
 *
 * Shared by the module and by userspace (no libc types).
 */
#ifndef _UAPI_BARTOGGLE_PFNMAP_H
#define _UAPI_BARTOGGLE_PFNMAP_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BT_PFNMAP_DEVICE	"/dev/bartoggle_pfnmap"
#define BT_PFNMAP_MODULE	"bartoggle_pfnmap"
/* Bumped on any change of the ioctls below or their structures. */
#define BT_PFNMAP_API_VERSION	1

/*
 * The first word of each 4-byte slot of the BAR reads this while the page
 * is mapped (page index in the low bits), so a reader can tell real BAR
 * data from a zero page or all ones.
 */
#define BT_PFNMAP_PATTERN(pgoff)	(0x5a000000u | ((__u32)(pgoff) & 0xffffffu))

struct bt_pfnmap_stats {
	__u64 faults;		/* fault handler calls */
	__u64 inserted;		/* PTEs installed */
	__u64 declined;		/* faults refused while disabled */
	__u64 zaps;		/* DISABLE calls that zapped the mappings */
	__u32 enabled;		/* 1: faults install PTEs */
	__u32 mapped;		/* live VMAs of this file */
	__u64 size;		/* bytes */
};

#define BT_PFNMAP_IOC_MAGIC	0xb7
/* __u32: BT_PFNMAP_API_VERSION of the loaded module. */
#define BT_PFNMAP_IOC_VERSION	_IOR(BT_PFNMAP_IOC_MAGIC, 0, __u32)
/* __u64 bytes, a page multiple up to max_pages; EBUSY once mmap()ed. */
#define BT_PFNMAP_IOC_SET_SIZE	_IOW(BT_PFNMAP_IOC_MAGIC, 1, __u64)
#define BT_PFNMAP_IOC_DISABLE	_IO(BT_PFNMAP_IOC_MAGIC, 2)
#define BT_PFNMAP_IOC_ENABLE	_IO(BT_PFNMAP_IOC_MAGIC, 3)
#define BT_PFNMAP_IOC_STATS	_IOR(BT_PFNMAP_IOC_MAGIC, 4, struct bt_pfnmap_stats)

#endif
