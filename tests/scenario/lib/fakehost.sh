# SPDX-License-Identifier: MIT
# fake_host HOST TRIPLET: the smallest host a jail can be planned from with --host-root HOST: merged
# /usr (lib, lib64, bin as links), this machine's libc and dynamic linker, root and www-data in passwd
# and group. A scenario adds its programs, configuration and profiles.
fake_host() {
  local host=$1 triplet=$2 interp
  mkdir -p "$host"/usr/{lib/"$triplet",lib64,bin} "$host"/etc
  ln -s usr/lib "$host/lib"; ln -s usr/lib64 "$host/lib64"; ln -s usr/bin "$host/bin"
  cp -L /lib/"$triplet"/libc.so.6 "$host/usr/lib/$triplet/"
  interp=$(readelf -l /bin/true | sed -n 's/.*interpreter: \(.*\)]/\1/p')
  cp -L "$interp" "$host/usr/lib/$triplet/$(basename "$interp")"
  [ "$(dirname "$interp")" = /lib64 ] && ln -s "/lib/$triplet/$(basename "$interp")" "$host/usr/lib64/$(basename "$interp")"
  printf 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n' > "$host/etc/passwd"
  printf 'root:x:0:\nwww-data:x:33:\n' > "$host/etc/group"
}
