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

# A private apt state holding bookworm and bookworm-backports, so the system's
# sources stay untouched.
APT_DIR=$VHM_CACHE/apt
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
	local stamp=$APT_DIR/updated
	if [ -f "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ]; then
		return 0
	fi
	cat >"$APT_DIR/sources.list" <<SRC
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
deb http://deb.debian.org/debian bookworm-backports main
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
