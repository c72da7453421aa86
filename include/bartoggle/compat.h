/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UAPI newer than Debian 12's linux-libc-dev (6.1). Every definition is
 * guarded so that newer system headers win; values and layouts follow the
 * upstream uapi (KVM 6.8+, iommufd 6.2+, vfio cdev 6.6+).
 */
#ifndef BARTOGGLE_COMPAT_H
#define BARTOGGLE_COMPAT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/kvm.h>
#include <linux/vfio.h>

#ifndef KVM_EXIT_MEMORY_FAULT
#define KVM_EXIT_MEMORY_FAULT		39
#endif
#ifndef KVM_CAP_MEMORY_FAULT_INFO
#define KVM_CAP_MEMORY_FAULT_INFO	232
#endif
#ifndef KVM_MEMORY_EXIT_FLAG_PRIVATE
#define KVM_MEMORY_EXIT_FLAG_PRIVATE	(1ULL << 3)
#endif

/*
 * run->memory_fault: three u64s at the start of the exit union. Read it
 * through this accessor so that the code builds against 6.1 headers, where
 * the union member does not exist yet.
 */
struct bt_memory_fault {
	__u64 flags;
	__u64 gpa;
	__u64 size;
};

static inline const struct bt_memory_fault *
bt_run_memory_fault(const struct kvm_run *run)
{
	return (const struct bt_memory_fault *)&run->hw;
}

/* iommufd (include/uapi/linux/iommufd.h, 6.2+) */
#ifndef IOMMUFD_TYPE
#define IOMMUFD_TYPE			(';')
#endif
#ifndef IOMMU_IOAS_ALLOC
struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC		_IO(IOMMUFD_TYPE, 0x81)
#endif

/* vfio device cdev (6.6+) */
#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD	_IO(VFIO_TYPE, VFIO_BASE + 18)
#endif
#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT	_IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

#endif
