# Settings and helpers for Debian's own stock 7.3 kernel (make check-distro, make install-module):
# sourced after common.sh, not run.
DEB_KSUITE=$KSUITE		# where Debian's 7.3 kernel packages are (trixie-backports)
DEB_TSUITE=trixie		# the suite whose toolchain built them (gcc-14, rustc 1.85.1, bindgen 0.71.1)
DEB_FLAVOUR=amd64
# What a trixie root needs to rebuild rust/ and build the module exactly as Debian did (openssl:
# Kconfig asks the openssl program whether it has ML-DSA, and Debian's .config says it had).
DEB_TOOLS=(gcc-14 gcc-14-for-host linux-base make bc bison flex libelf-dev libssl-dev python3 cpio
	   kmod rustc rust-src bindgen libclang-19-dev dwarves xz-utils binutils libc6-dev zstd file
	   openssl rust-clippy)	# (clippy: make check-distro lints with Debian's 1.85.1 too)

# The Debian archive URI the machine's own apt sources already use (never written into a file
# of the repo): the first non-security ".../debian" entry of /etc/apt/sources.list*.
debian_uri() {
	local uri
	uri=$( { grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true;
		 grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' || true; } \
		| grep -v -- '-security' | grep -E '/debian/?$' | head -n1 || true)
	[ -n "$uri" ] || die "no Debian archive URI found in /etc/apt/sources.list*: cannot reach $DEB_KSUITE"
	echo "$uri"
}

# apt_private DIR SUITE: a private apt state in DIR for one suite of the machine's Debian
# archive (the machine's own sources and lists stay untouched); sets the array APT_OPT.
apt_private() {
	local dir=$1 suite=$2
	mkdir -p "$dir/lists/partial" "$dir/archives/partial"
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		"$(debian_uri)" "$suite" > "$dir/sources.list"
	APT_OPT=(-o Dir::Etc::SourceList="$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		 -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir" -o APT::Get::List-Cleanup=0
		 -o Debug::NoDropPrivs=1 -o APT::Sandbox::User=root)
	apt-get "${APT_OPT[@]}" update -qq >/dev/null 2>"$dir/err" \
		|| { cat "$dir/err" >&2; die "apt-get update for $suite failed: the Debian archive must be reachable"; }
}

# kconfig_str FILE NAME: a string option's value from a .config, without its quotes.
kconfig_str() { sed -n "s/^$2=\"\(.*\)\"\$/\1/p" "$1"; }
