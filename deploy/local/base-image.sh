#!/bin/sh
# The stack's one base image, grown from Debian's packages with no registry: debootstrap
# writes a Debian bookworm root file system, `docker import` turns it into an image. Every
# service of deploy/local/docker-compose.yml starts from it: the project's image (Python,
# and Node.js for the front-end packages), PostgreSQL, Redis and nginx.
#
#   deploy/local/base-image.sh [image] [mirror]
#
# Skips the work when the image is already there; LABELER_BASE_REBUILD=1 builds it anew.
set -eu

image=${1:-labeler-base:bookworm}
mirror=${2:-${DEBIAN_MIRROR:-http://deb.debian.org/debian}}

if [ "${LABELER_BASE_REBUILD:-0}" != 1 ] && docker image inspect "$image" > /dev/null 2>&1; then
    echo "Base image $image is already built (LABELER_BASE_REBUILD=1 builds it again)."
    exit 0
fi

rootfs=$(mktemp -d "${TMPDIR:-/var/tmp}/labeler-base.XXXXXX")
trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
chmod 755 "$rootfs"  # the root directory of the image: every user walks through it
echo "Building $image from $mirror (debootstrap, then apt-get; a few minutes)..."
debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
    > "$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log"; exit 1; }

# The servers' packages through apt, which orders their configuration as debootstrap's
# own resolver cannot (npm's many dependencies); no service is started in the chroot.
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
chroot "$rootfs" sh -eu -c '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install --yes --no-install-recommends \
        python3 python3-pip python3-venv python-is-python3 procps \
        nodejs npm postgresql redis-server nginx-light
' >> "$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log"; exit 1; }
rm -f "$rootfs/usr/sbin/policy-rc.d"

# The certificate authorities this host trusts beyond Debian's (a company's own, an
# egress proxy's): the builds reach npm's registry through the same network as the host.
if [ -d /usr/local/share/ca-certificates ]; then
    cp -r /usr/local/share/ca-certificates/. "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates > /dev/null 2>&1
fi

# What the official images would have set up: the cluster the package made is dropped
# (deploy/local/postgres.sh makes one in the volume), data folders owned by each server,
# nginx with only the stack's site, and the package lists and caches gone.
chroot "$rootfs" sh -eu -c '
    rm -rf /var/lib/postgresql/15 /etc/postgresql/15
    install -d -o postgres -g postgres -m 700 /var/lib/postgresql/data
    install -d -o postgres -g postgres -m 2775 /run/postgresql
    install -d -o redis -g redis -m 750 /data
    rm -f /etc/nginx/sites-enabled/default
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
'

tar -C "$rootfs" --numeric-owner -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    -c 'CMD ["/bin/sh"]' \
    - "$image" > /dev/null
echo "Base image $image built."
