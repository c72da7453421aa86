# The devices of bartoggle's minimal QEMU (scripts/qemu-build.sh): what the
# runner's command line and the nested lanes use, and nothing else. Copied
# into the source tree as configs/devices/x86_64-softmmu/bartoggle.mak.
CONFIG_Q35=y
CONFIG_VTD=y
CONFIG_PCIE_PORT=y
CONFIG_VFIO_PCI=y
CONFIG_EDU=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_9P=y
CONFIG_PVPANIC_PCI=y
CONFIG_SERIAL_ISA=y
