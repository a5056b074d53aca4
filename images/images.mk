# images/images.mk: Xen with Argo, Debian's kernel, dom0 tools and the
# initramfs the end-to-end harness boots. Included by the top-level Makefile
# (after BUILD and BIN are set). Everything lands in $(IMG) (build/images);
# downloads are cached in $(IMG)/src, and every step is a real file or a
# stamp, so a second `make images` rebuilds only what changed.
#
#   make images       xen + vmlinuz + initrd.gz (installs what is missing)
#   make xen          build/images/xen          Xen, CONFIG_ARGO=y
#   make kernel       build/images/vmlinuz      Debian's kernel, modules tree
#   make initramfs    build/images/initrd.gz    busybox, /init, modules, tools
#   make images-clean everything but the downloads
#
# Variables:
#   KVER               kernel version (default: what linux-image-amd64 depends on)
#   XEN_TOOLS_VERSION  Debian version of xen-utils to stage: `src` (default,
#                      the version of the xen source built), `candidate`, or
#                      an explicit version
#   ARGO_KO            the Argo module to put in the initramfs (default:
#                      $(IMG)/argo.ko when it exists; empty: none)
#   IMAGES_EXTRA_KO    more of our modules, in /lib/modules/KVER/extra, not
#                      loaded by /init (scenarios load them with parameters)
#   IMAGE_BINS         our programs to put in /usr/bin of the initramfs
#                      (default: $(PROGRAMS) of the top-level Makefile)
#   IMAGE_HOST_BINS    programs of the host (Debian packages) to put there too
#   IMAGES_SCENARIO_DIRS folders whose *.sh go to /scenarios (default
#                      harness/scenarios and l1/test/scenarios)
#   IMAGES_MODULES     kernel modules to load in /init (with dependencies)
#   IMAGES_JOBS        make -j for Xen (default 2)
#   XEN_PATCHES        patches applied (patch -p1) to Debian's xen source
#                      before Xen is built (default: images/xen-patches/*.patch;
#                      empty: Debian's Xen as it is)

IMG ?= $(BUILD)/images
IMG_SRC := $(IMG)/src
IMAGES_JOBS ?= 2
BIN ?= $(BUILD)/bin

# Computed once, and only when a recipe needs it (apt-cache is slow-ish).
KVER ?= $(eval KVER := $(shell apt-cache depends linux-image-amd64 2>/dev/null | \
	sed -n 's/^ *Depends: linux-image-\([0-9].*\)$$/\1/p' | head -n 1))$(KVER)

XEN_TOOLS_VERSION ?= src
ARGO_KO ?= $(wildcard $(IMG)/argo.ko)
IMAGES_EXTRA_KO ?=
IMAGE_BINS ?= $(or $(PROGRAMS),$(BIN)/argo-simd $(BIN)/argo-conformance $(BIN)/argo-ping $(BIN)/argo-echo)
IMAGE_HOST_BINS ?=
IMAGES_SCENARIO_DIRS ?= harness/scenarios $(wildcard l1/test/scenarios)
# vsock_loopback (with vsock and vmw_vsock_virtio_transport_common, which
# modprobe --show-depends adds): AF_VSOCK between processes of one guest
# (CID 1), for the relay-vsock scenario. virtio_blk and virtiofs: the
# drivers that bind to virtio-argo's devices; ext4 for the file system on
# its block device.
IMAGES_MODULES ?= xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs \
	virtio_pci virtio_console 9pnet_virtio 9p vsock_loopback virtio_blk virtiofs ext4

XEN_TREE := $(IMG)/xen-src
XEN_PATCHES ?= $(sort $(wildcard images/xen-patches/*.patch))
LINUX_ROOT := $(IMG)/linux/root
TOOLS_ROOT := $(IMG)/xen-tools/root

# Xen's own make must not see this project's variables (CC, CFLAGS, SAN,
# BUILD, the jobserver of the outer make).
XEN_MAKE = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u LDFLAGS -u CC \
	-u BUILD -u SAN $(MAKE)

.PHONY: images images-deps xen kernel initramfs images-clean images-FORCE

images: $(IMG)/xen $(IMG)/vmlinuz $(IMG)/initrd.gz
xen: $(IMG)/xen
kernel: $(IMG)/vmlinuz
initramfs: $(IMG)/initrd.gz

images-deps:
	@harness/install-deps.sh base images virtio

images-FORCE:

# A file that holds a value and changes (new mtime) only when the value does:
# $(call value-file,VALUE,DESCRIPTION)
define value-file
	@mkdir -p $(@D)
	@v='$(1)'; if [ -z "$$v" ]; then echo "images: cannot determine $(2)" >&2; exit 1; fi; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$v" ]; then echo "$$v" >$@; echo "images: $(2) = $$v"; fi
endef

# ---------------------------------------------------------------- Xen ----
$(IMG_SRC)/xen.version: | images-deps
	images/fetch-xen-src.sh $(IMG_SRC)

# Which patches (names and contents): a new set means a new tree.
$(IMG)/xen-patches: images-FORCE
	$(call value-file,$(if $(XEN_PATCHES),$(shell cat $(XEN_PATCHES) | sha256sum | cut -c1-16) $(notdir $(XEN_PATCHES)),none),the patches to Xen)

$(XEN_TREE)/.extracted: $(IMG_SRC)/xen.version $(IMG)/xen-patches
	rm -rf $(XEN_TREE)
	@mkdir -p $(IMG)
	cd $(IMG_SRC) && dpkg-source -q --no-copy -x xen_$$(cat xen.version).dsc \
		$(abspath $(XEN_TREE)) >$(abspath $(IMG))/xen-extract.log 2>&1 || \
		{ cat $(abspath $(IMG))/xen-extract.log >&2; exit 1; }
	@for p in $(XEN_PATCHES); do \
		echo "images: patching Xen: $$p"; \
		patch -d $(XEN_TREE) -p1 --forward --batch --quiet <$$p || exit 1; \
	done
	touch $@

$(XEN_TREE)/xen/.config: $(XEN_TREE)/.extracted images/xen-argo.config
	$(XEN_MAKE) -s -C $(XEN_TREE)/xen defconfig
	cat images/xen-argo.config >>$@
	$(XEN_MAKE) -s -C $(XEN_TREE)/xen olddefconfig
	@for o in $$(grep -E '^CONFIG_[A-Z0-9_]+=y' images/xen-argo.config); do \
		grep -qx "$$o" $@ || { echo "images: Xen's olddefconfig dropped $$o" >&2; exit 1; }; done

$(IMG)/xen: $(XEN_TREE)/xen/.config
	$(XEN_MAKE) -C $(XEN_TREE)/xen -j$(IMAGES_JOBS) >$(IMG)/xen-build.log 2>&1 || \
		{ tail -n 40 $(IMG)/xen-build.log >&2; echo "images: Xen build failed, log: $(IMG)/xen-build.log" >&2; exit 1; }
	cp $(XEN_TREE)/xen/xen $@
	cp $(XEN_TREE)/xen/.config $(IMG)/xen.config

# ------------------------------------------------------------- kernel ----
$(IMG)/kver: images-FORCE
	$(call value-file,$(KVER),the kernel version (apt-cache depends linux-image-amd64))

# Debian's package ships no modules.dep: depmod makes it, so that modprobe
# -d can resolve module dependencies against this tree.
$(IMG)/linux/.extracted: $(IMG)/kver | images-deps
	rm -rf $(IMG)/linux
	@mkdir -p $(LINUX_ROOT)
	k=$$(cat $(IMG)/kver) && \
	deb=$$(images/fetch-debs.sh $(IMG_SRC) linux-image-$$k) && \
	dpkg-deb -x $$deb $(LINUX_ROOT) && \
	depmod -b $(LINUX_ROOT) $$k
	touch $@

$(IMG)/vmlinuz: $(IMG)/linux/.extracted
	cp $(LINUX_ROOT)/boot/vmlinuz-$$(cat $(IMG)/kver) $@

# --------------------------------------------------------- dom0 tools ----
$(IMG)/xen-tools.version: images-FORCE | $(IMG_SRC)/xen.version
	$(call value-file,$(strip \
		$(if $(filter src,$(XEN_TOOLS_VERSION)),$(shell cat $(IMG_SRC)/xen.version 2>/dev/null),\
		$(if $(filter candidate,$(XEN_TOOLS_VERSION)),$(shell apt-cache policy xen-utils-common 2>/dev/null | sed -n 's/^ *Candidate: //p'),\
		$(XEN_TOOLS_VERSION)))),the xen-utils version)

$(IMG)/xen-tools/.staged: $(IMG)/xen-tools.version images/stage-xen-tools.sh
	images/stage-xen-tools.sh $(IMG)/xen-tools $$(cat $(IMG)/xen-tools.version) $(IMG_SRC)
	touch $@

# ----------------------------------------------------------- initramfs ----
$(IMG)/bin/argo-hcall: images/tools/argo-hcall.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -std=c11 -Wall -Wextra -Werror $< -o $@

IMAGES_INITRAMFS_INPUTS := images/mkinitramfs.sh images/images.mk \
	$(wildcard images/initramfs/*) $(wildcard $(addsuffix /*.sh,$(IMAGES_SCENARIO_DIRS)))

$(IMG)/initrd.gz: $(IMAGES_INITRAMFS_INPUTS) $(IMG)/linux/.extracted $(IMG)/vmlinuz \
		$(IMG)/xen-tools/.staged $(IMG)/bin/argo-hcall $(IMAGE_BINS) $(ARGO_KO) $(IMAGES_EXTRA_KO)
	IMG=$(IMG) KVER=$$(cat $(IMG)/kver) LINUX_ROOT=$(LINUX_ROOT) TOOLS_ROOT=$(TOOLS_ROOT) \
	MODULES='$(IMAGES_MODULES)' BINS='$(IMAGE_BINS) $(IMG)/bin/argo-hcall $(IMAGE_HOST_BINS)' \
	ARGO_KO='$(ARGO_KO)' EXTRA_KO='$(IMAGES_EXTRA_KO)' \
	SCENARIOS='$(IMAGES_SCENARIO_DIRS)' \
		images/mkinitramfs.sh $@

images-clean:
	rm -rf $(filter-out $(IMG_SRC),$(wildcard $(IMG)/*))
