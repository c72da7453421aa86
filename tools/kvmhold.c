// SPDX-License-Identifier: GPL-2.0
/*
 * bt-kvmhold: keep one KVM VM, with an in-kernel APIC and one vCPU that
 * never runs, open until killed. Our L1 guests start it before their first
 * test VM. KVM flips static keys as VMs come and go: KVM_CREATE_VM turns
 * the preempt-notifier key on (the last VM's destruction turns it off), a
 * new vCPU's software-disabled local APIC turns apic_sw_disabled on and the
 * guest enabling it turns it off. Every flip patches code that other vCPUs
 * are running (finish_task_switch(), vcpu_enter_guest()), which QEMU's
 * multi-threaded TCG can get wrong: a vCPU spinning on stale code, or an
 * int3 nobody expects ("Oops: int3" in kvm_arch_vcpu_ioctl_run, seen with
 * an L2 QEMU). A held VM whose vCPU's APIC stays disabled keeps both keys
 * on: they flip once per boot, here, instead of once per test VM.
 *   bt-kvmhold [/dev/kvm]  ->  "kvmhold: holding VM fd N" on stderr
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
	int kvm, vm, vcpu;

	if (argc > 2 || (argc == 2 && !strcmp(argv[1], "--help"))) {
		fprintf(stderr, "usage: bt-kvmhold [/dev/kvm]: hold one KVM VM open until killed\n");
		return argc > 2 ? 2 : 0;
	}
	kvm = open(dev, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvmhold: %s: %s\n", dev, strerror(errno));
		return 4;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvmhold: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		fprintf(stderr, "kvmhold: KVM_CREATE_IRQCHIP: %s\n", strerror(errno));
		return 1;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fprintf(stderr, "kvmhold: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	fprintf(stderr, "kvmhold: holding VM fd %d with vCPU fd %d\n", vm, vcpu);
	for (;;)
		pause();	/* SIGTERM/SIGKILL end it; the kernel frees the VM */
}
