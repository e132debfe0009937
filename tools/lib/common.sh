# shellcheck shell=bash
# Shared settings and helpers of the memtrack scripts.  Source, don't run.

MT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MT_BUILD=${MEMTRACK_BUILD_DIR:-$MT_ROOT/build}
MT_JOBS=${MEMTRACK_JOBS:-$(nproc)}
MT_KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz

# Debian 12 packages every script may need.  tools/deps installs them.
MT_DEB_PACKAGES=(
	linux-source-6.12 build-essential bc bison flex libelf-dev libssl-dev
	cpio xz-utils rsync kmod python3 python3-yaml python3-jsonschema python3-prometheus-client
	qemu-system-x86 busybox-static cmake pkg-config
	libnl-3-dev libnl-genl-3-dev libcap-dev file clang libclang-rt-14-dev
	jq valgrind libc6-dbg sparse libbpf-dev dwarves gnuplot-nox
)

mt_log() { printf '[memtrack] %s\n' "$*" >&2; }
mt_die() { printf '[memtrack] error: %s\n' "$*" >&2; exit 1; }

# Install missing Debian packages; a no-op when everything is present.
mt_deps() {
	local missing=() p
	for p in "${MT_DEB_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] ||
		mt_die "missing packages (${missing[*]}); run as root or install them"
	mt_log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || mt_die "apt-get update failed"
	apt-get install -y -qq "${missing[@]}" >&2 ||
		mt_die "apt-get install failed"
}

# Kernel version inside the Debian tarball, e.g. 6.12.57.
mt_kernel_version() {
	tar -xOJf "$MT_KSRC_TARBALL" linux-source-6.12/Makefile 2>/dev/null |
		awk '/^VERSION =/{v=$3} /^PATCHLEVEL =/{p=$3}
		     /^SUBLEVEL =/{s=$3; print v "." p "." s; exit}'
}

# checkpatch's --ignore for one patch, on stdout.  Code generated from the
# netlink spec keeps the generator's long lines, as every YNL family's
# does.  Selftests are userspace: no kernel types, ARRAY_SIZE comes from
# kselftest.h, __aligned and friends do not exist, volatile
# sig_atomic_t is right, and exit codes are positive.
mt_checkpatch_ignore() {
	# Code generated from the spec (a new file, or a regenerated one)
	# keeps the generator's long lines.
	if grep -q -e '^+/\* YNL-GEN ' -e '^+++ b/.*-nl-gen\.[ch]$' "$1"; then
		echo "--ignore LONG_LINE"
	elif ! grep '^+++ b/' "$1" | grep -qv -e '^+++ b/tools/testing/selftests/' -e '^+++ b/MAINTAINERS'; then
		# FILE_PATH_CHANGES: a new test file needs no MAINTAINERS
		# change, the memtrack entry lists the whole directory.
		echo "--ignore VOLATILE,USE_NEGATIVE_ERRNO,PREFER_DEFINED_ATTRIBUTE_MACRO,MACRO_ARG_REUSE,MACRO_WITH_FLOW_CONTROL,MACRO_ARG_PRECEDENCE,STATIC_CONST_CHAR_ARRAY,AVOID_EXTERNS,CAMELCASE,BIT_MACRO,DEEP_INDENTATION,LONG_LINE_STRING,FILE_PATH_CHANGES"
	fi
}

# The patches of the series in order, the cover letter aside.
mt_series_patches() {
	local p
	for p in "$MT_ROOT"/kernel/patches/[0-9][0-9][0-9][0-9]-*.patch; do
		case $p in */0000-cover-letter.patch) continue ;; esac
		echo "$p"
	done
}
