// SPDX-License-Identifier: GPL-2.0
/*
 * bt-kvmhold: keep one KVM VM open until killed. Our L1 guests start it
 * before their first test VM: KVM_CREATE_VM turns the preempt-notifier
 * static key on and the last VM's destruction turns it off again, and every
 * such flip makes the kernel patch finish_task_switch() while its other
 * vCPUs run, which QEMU's multi-threaded TCG can get wrong (a vCPU spinning
 * on stale code, or an int3 nobody expects). With a VM held, the key flips
 * once per boot, before the tests, instead of once per test VM.
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
	int kvm, vm;

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
	fprintf(stderr, "kvmhold: holding VM fd %d\n", vm);
	for (;;)
		pause();	/* SIGTERM/SIGKILL end it; the kernel frees the VM */
}
