#!/bin/sh
# kmod-pvh: kmod-cross with a PVH domU instead of a PV one: dom0 serves
# argo-echo, a PVH domU (type = "pvh", the same Debian kernel and
# initramfs, booted directly through the kernel's PVH entry) runs
# scenario kmod-domu (argo.ko's own checks, a ping to dom0). Needs Xen to
# offer hvm (xl info virt_caps); QEMU's qemu64 CPU has SVM, so under TCG
# Xen runs HVM/PVH guests with shadow paging (no HAP; E2E_CPU=qemu64,+npt
# gives HAP, which passes too). TCG boots a PVH guest more slowly: the
# domU gets 300 s. Kernel options as kmod-cross.
KMOD_DOMU_TYPE=pvh
KMOD_DOMU_TIMEOUT=300
. /scenarios/kmod-cross.sh
