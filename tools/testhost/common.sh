# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the test-host scripts. Sourced, not executed.

VHM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VHM_CACHE=${VHM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vhm}

die() { echo "testhost: $*" >&2; exit 2; }
log() { echo "testhost: $*" >&2; }

# Install Debian packages that provide the given commands when missing.
# Usage: need_pkgs "cmd:package" ...
need_pkgs() {
	local want=() pair
	for pair in "$@"; do
		if [[ $pair == /* ]]; then
			[ -e "${pair%%:*}" ] || want+=("${pair#*:}")
		else
			command -v "${pair%%:*}" >/dev/null 2>&1 || want+=("${pair#*:}")
		fi
	done
	[ ${#want[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages: ${want[*]} (run as root or install them)"
	log "installing ${want[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		"${want[@]}" >&2 || {
		apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends "${want[@]}" >&2
	} || die "apt-get install ${want[*]} failed"
}

# A private apt state, so the system's sources stay untouched: bookworm and
# bookworm-backports in $VHM_CACHE/apt (the default), or trixie and
# trixie-backports in $VHM_CACHE/apt-trixie after "apt_use trixie". The two
# are kept apart so that "the newest linux-image-amd64" of one distribution
# never picks the other's kernel.
APT_DIR=$VHM_CACHE/apt
APT_DIST=bookworm
apt_use() {
	case $1 in
	bookworm) APT_DIR=$VHM_CACHE/apt ;;
	trixie) APT_DIR=$VHM_CACHE/apt-trixie ;;
	*) die "apt_use: unknown distribution $1" ;;
	esac
	APT_DIST=$1
}
apt_private() {
	local tool=$1
	shift
	"$tool" -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache="$APT_DIR/cache" \
		-o APT::Sandbox::User=root "$@"
}

apt_private_update() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	local stamp=$APT_DIR/updated d=$APT_DIST
	if [ -f "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ]; then
		return 0
	fi
	cat >"$APT_DIR/sources.list" <<SRC
deb http://deb.debian.org/debian $d main
deb http://deb.debian.org/debian $d-updates main
deb http://deb.debian.org/debian-security $d-security main
deb http://deb.debian.org/debian $d-backports main
SRC
	apt_private apt-get -q update >&2 || die "apt-get update (private state) failed"
	touch "$stamp"
}

# Print the value of field $2 of package $1 (pkg or pkg=version).
apt_field() {
	apt_private apt-cache show "$1" 2>/dev/null |
		awk -v f="$2:" '$1 == f { sub(/^[^:]*: */, ""); print; exit }'
}

# Everything building vhm and booting the AMD test host needs (mbkernel,
# freestanding gcc -m32 without libc or libgcc, needs no multilib package).
need_build_deps() {
	need_pkgs make:make gcc:gcc patch:patch rsync:rsync perl:perl \
		python3:python3 busybox:busybox-static cpio:cpio xz:xz-utils \
		depmod:kmod pahole:pahole qemu-system-x86_64:qemu-system-x86 \
		objcopy:binutils \
		/usr/include/linux/kvm.h:linux-libc-dev \
		/usr/lib/x86_64-linux-gnu/libc.a:libc6-dev \
		/usr/lib/x86_64-linux-gnu/libelf.so.1:libelf1
}

# The trixie build root: a minimal Debian 13 with its gcc-14, where modules
# for trixie's kernels are built (their headers' modpost and objtool need
# trixie's glibc, and Debian builds them with gcc-14). Created once with
# debootstrap and cached outside the checkout; headers packages are unpacked
# into it by fetch-kernel. Prints its path.
TRIXIE_ROOT=$VHM_CACHE/roots/trixie
need_trixie_root() {
	if [ -f "$TRIXIE_ROOT/.vhm-ready" ]; then
		echo "$TRIXIE_ROOT"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "creating the trixie build root needs root"
	need_pkgs debootstrap:debootstrap
	log "creating the trixie build root in $TRIXIE_ROOT (debootstrap)"
	rm -rf "$TRIXIE_ROOT"
	mkdir -p "$(dirname "$TRIXIE_ROOT")"
	debootstrap --variant=minbase \
		--include=gcc-14,make,libc6-dev,libelf-dev,bc,flex,bison,xz-utils,kmod,pahole,binutils \
		trixie "$TRIXIE_ROOT" http://deb.debian.org/debian >&2 ||
		die "debootstrap of trixie failed (see $TRIXIE_ROOT/debootstrap/debootstrap.log)"
	touch "$TRIXIE_ROOT/.vhm-ready"
	echo "$TRIXIE_ROOT"
}

# build_kmod KD DIR: build the module sources in DIR (Kbuild, kmod/, uapi/)
# against the kernel of fetch-kernel's directory KD with its distribution's
# compiler: a bookworm series here (gcc-12), a trixie one inside its build
# root (gcc-14, and trixie's glibc for the headers' modpost and objtool),
# from a copy under the root's /src; vhm.ko comes back into DIR.
build_kmod() {
	local kd=$1 dir=$2 troot src
	if [ ! -e "$kd/chroot" ]; then
		make -s -C "$kd/kdir" M="$dir" modules >&2
		return
	fi
	troot=$(readlink -f "$kd/chroot")
	src=/src/$(basename "$dir")
	mkdir -p "$troot$src"
	rsync -a --delete "$dir/" "$troot$src/" || return 1
	(
		# One build in the root at a time: each mounts /proc for its
		# own build and unmounts it at the end (parallel runs raced).
		exec 9>"$troot/.vhm-build.lock"
		flock 9
		# objtool reads /proc (its stack limit): mounted for the build.
		if ! mountpoint -q "$troot/proc"; then
			mount -t proc proc "$troot/proc" || exit 1
			trap 'umount "$troot/proc"' EXIT
		fi
		chroot "$troot" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 \
			make -s -C "/usr/src/linux-headers-$(cat "$kd/release")" \
			M="$src" modules >&2
	) || return 1
	cp "$troot$src/vhm.ko" "$dir/"
}
