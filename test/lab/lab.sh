#!/usr/bin/env bash
# The lab's host plumbing: Docker hosts made of Linux namespaces on one machine (see LAB.md in
# the shared folder and lab.ts beside this file, which drives this script).
#
#   lab.sh prepare ID HOSTS        state folder, keys, configs, image tar, control netns + bridge
#   lab.sh ctl-up ID               registry in the control netns          (inside the lab PID ns)
#   lab.sh auth-registry ID PASS   (re)start a second registry that takes user "pulumi" with
#                                  password PASS only, on $PREFIX.2:5001    (inside the lab PID ns)
#   lab.sh host-up ID I            namespaces, network, containerd, dockerd, sshd, image,
#                                  forwarder 127.0.0.1:<port> -> sshd on a port the kernel
#                                  picks and the forwarder holds; prints "sshport <port>"
#                                                                          (inside the lab PID ns)
#   lab.sh down ID                 kill, unmount, remove: leaves nothing behind (idempotent)
#   lab.sh leftovers ID            print what of lab ID still exists (nothing when clean)
#
# ID is "pulumi-swarm-lab-<name>-<pid>": the state folder is /tmp/ID, the cgroup parent of the
# dockerds is /ID/lab-<i>. Every long-lived process lives in one PID namespace (the "lab"),
# whose init (docker-init, i.e. tini) reaps orphans; each host has a PID namespace of its own
# under it, again with tini as PID 1. Killing the lab's init kills everything at once.
# lab.ts starts that init between prepare and the rest, as
#   unshare --pid=/tmp/ID/ns/lab.pid --fork --kill-child -- docker-init -- cat   (stdin: a pipe)
# and runs ctl-up and host-up inside it: nsenter --pid=/tmp/ID/ns/lab.pid -- bash lab.sh ...
set -euo pipefail

PREFIX=10.77.0                   # hosts are $PREFIX.(10+i); the control bridge has .1 and .2
REGISTRY_ADDR=$PREFIX.2:5000
AUTH_REGISTRY_ADDR=$PREFIX.2:5001 # htpasswd auth; started on demand by auth-registry
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "lab.sh: $*" >&2; exit 1; }

# wait_for SECONDS WHAT CMD...: run CMD every 50 ms until it succeeds, or fail after SECONDS.
wait_for() {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then die "timed out after ${limit}s waiting for $what"; fi
        sleep 0.05
    done
}

# bg LOG CMD...: start CMD detached (own session, stdio to LOG); its parent exits at once, so it
# is adopted by the init of the current PID namespace, which reaps it.
bg() {
    local log=$1
    shift
    setsid -f "$@" </dev/null >>"$log" 2>&1
}

set_paths() {
    ID=$1
    [[ $ID =~ ^pulumi-swarm-lab-[a-z0-9]+-[0-9]+$ ]] || die "bad lab id: $ID"
    STATE=/tmp/$ID
    NS=$STATE/ns
}

host_name() { echo "lab-$1"; }
host_addr() { echo "$PREFIX.$((10 + $1))"; }

# in_host I CMD...: run CMD inside host I (all of its namespaces, clean environment).
in_host() {
    local h
    h=$(host_name "$1")
    shift
    nsenter --pid="$NS/$h.pid" --mount="$NS/$h.mnt" --net="$NS/$h.net" --uts="$NS/$h.uts" \
        --ipc="$NS/$h.ipc" -- env -i PATH="$CLEAN_PATH" HOME=/root LANG=C.UTF-8 "$@"
}

in_ctl() { nsenter --net="$NS/ctl.net" -- "$@"; }

build_image() {
    local dir=$STATE/image root arch diff cfg cfgsha
    root=$dir/rootfs
    mkdir -p "$root"/{bin,etc,root,tmp,var/www,proc,sys,dev,usr}
    ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"
    cp /bin/busybox "$root/bin/busybox"
    # tini as the entrypoint: busybox sh or httpd as PID 1 ignore SIGTERM, and every stop of
    # such a container would wait out the grace period (10 s by default).
    cp "$(readlink -f /usr/bin/docker-init)" "$root/bin/tini"
    ldd "$root/bin/tini" >/dev/null 2>&1 && die "/usr/bin/docker-init is dynamically linked"
    # One symlink per applet (perl-base is Essential in Debian; a shell loop takes 0.4 s).
    /bin/busybox --list | perl -nle 'BEGIN { $d = shift @ARGV }
        $_ eq "busybox" or symlink("busybox", "$d/$_") or die "$_: $!"' "$root/bin"
    ln -s ../bin "$root/usr/bin"
    ln -s bin "$root/sbin"
    ln -s ../bin "$root/usr/sbin"
    chmod 1777 "$root/tmp"
    chmod 700 "$root/root"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    echo 'lab' >"$root/var/www/index.html"
    mkdir -p "$dir/out"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$dir/layer.tar" .
    diff=$(sha256sum "$dir/layer.tar" | cut -d' ' -f1)
    mkdir -p "$dir/out/$diff"
    mv "$dir/layer.tar" "$dir/out/$diff/layer.tar"
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    cfg='{"architecture":"'$arch'","os":"linux","created":"1970-01-01T00:00:00Z",'
    cfg+='"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],'
    cfg+='"Entrypoint":["/bin/tini","-s","--"],"Cmd":["sh"]},'
    cfg+='"history":[{"created":"1970-01-01T00:00:00Z","created_by":"pulumi-swarm lab: static busybox and tini"}],'
    cfg+='"rootfs":{"type":"layers","diff_ids":["sha256:'$diff'"]}}'
    printf '%s' "$cfg" >"$dir/config.json"
    cfgsha=$(sha256sum "$dir/config.json" | cut -d' ' -f1)
    mv "$dir/config.json" "$dir/out/$cfgsha.json"
    printf '[{"Config":"%s.json","RepoTags":["lab/busybox:latest"],"Layers":["%s/layer.tar"]}]' \
        "$cfgsha" "$diff" >"$dir/out/manifest.json"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$dir/out" -cf "$STATE/image.tar" .
    rm -rf "$dir"
}

write_host_config() {
    local i=$1 n=$2 h addr d j
    h=$(host_name "$i")
    addr=$(host_addr "$i")
    d=$STATE/hosts/$h
    mkdir -p "$d"/{etc-docker,etc-containerd,etc-ssh,var-lib-docker,var-lib-containerd,log,root/.ssh}
    chmod 700 "$d/root" "$d/root/.ssh"
    cat >"$d/etc-docker/daemon.json" <<EOF
{
  "cgroup-parent": "/$ID/$h",
  "insecure-registries": ["$REGISTRY_ADDR", "$AUTH_REGISTRY_ADDR"],
  "containerd": "/run/containerd/containerd.sock",
  "storage-driver": "overlay2",
  "log-level": "warn"
}
EOF
    cat >"$d/etc-containerd/config.toml" <<'EOF'
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
EOF
    cat >"$d/etc-ssh/sshd_config" <<EOF
ListenAddress $addr:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 100:30:200
MaxSessions 100
AcceptEnv LANG LC_*
# Where a node's scripts reach "AWS": the lab's stand-in on the control bridge (test/lab/awsStandIn.ts),
# through the variables the AWS SDKs read; on EC2 they are unset and the real endpoints answer.
SetEnv AWS_EC2_METADATA_SERVICE_ENDPOINT=http://$PREFIX.1:9180 AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2=http://$PREFIX.1:9180
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
    ssh-keygen -q -t ed25519 -N '' -C "root@$h" -f "$d/etc-ssh/ssh_host_ed25519_key"
    cp "$STATE/id_ed25519.pub" "$d/root/.ssh/authorized_keys"
    chmod 600 "$d/root/.ssh/authorized_keys"
    echo "$h" >"$d/hostname"
    {
        printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
        printf '%s\tregistry\n' "$PREFIX.2"
        for ((j = 1; j <= n; j++)); do printf '%s\t%s\n' "$(host_addr "$j")" "$(host_name "$j")"; done
    } >"$d/hosts"
    # A name server on the control bridge where nothing listens: lookups fail at once
    # (ICMP port unreachable) instead of timing out, and nothing leaves the lab.
    printf 'nameserver %s\noptions timeout:1 attempts:1\n' "$PREFIX.1" >"$d/resolv.conf"
}

# registry_config ADDR DATA [HTPASSWD]: a docker-registry config, with htpasswd auth when given.
registry_config() {
    cat <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $2
  delete:
    enabled: true
http:
  addr: $1
EOF
    if [[ $# -ge 3 ]]; then
        printf 'auth:\n  htpasswd:\n    realm: pulumi-swarm-lab\n    path: %s\n' "$3"
    fi
}

cmd_prepare() {
    set_paths "$1"
    local n=$2 i
    if ! [[ $n =~ ^[0-9]+$ ]] || ((n < 1 || n > 50)); then die "hosts must be 1..50, got $n"; fi
    [[ ! -e $STATE ]] || die "$STATE already exists"
    mkdir -p "$STATE"/{ns,run,fwd,registry/data,hosts}
    chmod 700 "$STATE"
    echo "$n" >"$STATE/hosts/count"
    # Namespace files are bind mounts: their folder must be a private mount.
    mount --bind "$NS" "$NS"
    mount --make-private "$NS"
    # Mount points for the per-host folders; remembered so that teardown removes them again.
    local dir
    for dir in /etc/docker /etc/containerd /etc/ssh /var/lib/docker /var/lib/containerd; do
        if [[ ! -d $dir ]]; then
            mkdir -p "$dir"
            echo "$dir" >>"$STATE/created-dirs"
        fi
    done
    ssh-keygen -q -t ed25519 -N '' -C "pulumi-swarm-lab" -f "$STATE/id_ed25519"
    for ((i = 1; i <= n; i++)); do write_host_config "$i" "$n"; done
    build_image
    registry_config "$REGISTRY_ADDR" "$STATE/registry/data" >"$STATE/registry/config.yml"
    touch "$NS/ctl.net" "$NS/lab.pid"
    # The control netns is the hosts' default gateway and a dead end: its only link is the
    # bridge, and every other destination is "unreachable", answered at once with an ICMP
    # error (the kernel sends those only when forwarding is on) instead of a silent drop.
    # No ICMP rate limit there: every refused DNS lookup (see resolv.conf above) gets its
    # "port unreachable" at once; rate-limited ones became 5 s resolver time-outs.
    unshare --net="$NS/ctl.net" -- sh -c 'sysctl -q -w net.ipv4.icmp_ratelimit=0 \
        net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000 \
        net.ipv4.ip_forward=1 && ip -batch -' <<EOF
link set lo up
link add br0 type bridge
addr add $PREFIX.1/24 dev br0
addr add $PREFIX.2/24 dev br0
link set br0 up
route add unreachable default
EOF
}

cmd_ctl_up() {
    set_paths "$1"
    bg "$STATE/registry/registry.log" nsenter --net="$NS/ctl.net" -- \
        env -i PATH="$CLEAN_PATH" docker-registry serve "$STATE/registry/config.yml"
    wait_for 20 "the registry" in_ctl curl -sf "http://$REGISTRY_ADDR/v2/"
}

# A registry that needs a password, for credential tests. Started again with another password,
# the old one stops working (as an expired token does); the images it holds stay.
cmd_auth_registry() {
    set_paths "$1"
    local pass=$2 dir
    dir=$STATE/auth-registry
    mkdir -p "$dir/data"
    # lab.ts stops the old one from the root PID namespace (kill here would take the PIDs that
    # /proc shows as this PID namespace's). [d]ocker: no match on the command lines carrying it.
    wait_for 20 "the old password registry to stop" sh -c "! pgrep -f '[d]ocker-registry serve $dir/config.yml'"
    htpasswd -Bbn pulumi "$pass" >"$dir/htpasswd"
    registry_config "$AUTH_REGISTRY_ADDR" "$dir/data" "$dir/htpasswd" >"$dir/config.yml"
    bg "$dir/registry.log" nsenter --net="$NS/ctl.net" -- \
        env -i PATH="$CLEAN_PATH" docker-registry serve "$dir/config.yml"
    wait_for 20 "the password registry" sh -c \
        "nsenter --net='$NS/ctl.net' curl -s -o /dev/null -w '%{http_code}' http://$AUTH_REGISTRY_ADDR/v2/ | grep -qx 401"
}

# What runs first inside a new host, as PID 1 of its PID namespace, before it becomes tini.
# Its own /sys shows its own network devices (dockerd writes /sys/class/net/<bridge>/...); the
# cgroup mounts are carried over from the root /sys.
# It reports "ok <its PID in the root PID namespace>" on fd 3 (read from the root /proc before
# the host's own /proc hides it), so that host-up can bind the host's namespaces to files.
# shellcheck disable=SC2016 # expanded by the inner shell
HOST_INIT='set -e
exec 3>"$READY"
read -r gpid _ </proc/self/stat
hostname "$HN"
umount -l "$NSDIR"
for m in etc-docker:/etc/docker etc-containerd:/etc/containerd etc-ssh:/etc/ssh root:/root \
         var-lib-docker:/var/lib/docker var-lib-containerd:/var/lib/containerd log:/var/log \
         hosts:/etc/hosts hostname:/etc/hostname resolv.conf:/etc/resolv.conf; do
    mount --bind "$D/${m%%:*}" "${m#*:}"
done
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir /run/lab-cgroup
mount --rbind /sys/fs/cgroup /run/lab-cgroup
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount --move /run/lab-cgroup /sys/fs/cgroup
rmdir /run/lab-cgroup
mkdir -m 0755 /run/sshd /run/lock
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
echo "ok $gpid" >&3
exec 3>&-
exec /usr/bin/docker-init -- sleep infinity'

cmd_host_up() {
    set_paths "$1"
    local i=$2 port h addr d f ready fd line gpid
    h=$(host_name "$i")
    addr=$(host_addr "$i")
    d=$STATE/hosts/$h
    ready=$STATE/run/$h.ready
    mkfifo "$ready"
    exec {fd}<>"$ready"
    # (unshare's own --pid=FILE etc. cannot be used here: it finds itself in /proc by its PID,
    # which inside the lab's PID namespace is not the PID that the root /proc shows.)
    READY=$ready HN=$h NSDIR=$NS D=$d bg "$d/log/init.log" \
        unshare --pid --mount --net --uts --ipc --fork --propagation private -- sh -c "$HOST_INIT"
    line=
    read -r -t 20 line <&"$fd" || true
    exec {fd}<&-
    rm -f "$ready"
    [[ $line =~ ^ok\ ([0-9]+)$ ]] || die "$h did not start: $(cat "$d/log/init.log")"
    gpid=${BASH_REMATCH[1]}
    for f in pid mnt net uts ipc; do
        touch "$NS/$h.$f"
        mount --bind "/proc/$gpid/ns/$f" "$NS/$h.$f"
    done

    in_ctl ip -batch - <<EOF
link add veth-$h type veth peer name eth0 netns $NS/$h.net
link set veth-$h master br0
link set veth-$h up
EOF
    nsenter --net="$NS/$h.net" -- ip -batch - <<EOF
link set lo up
addr add $addr/24 dev eth0
link set eth0 up
route add default via $PREFIX.1
EOF
    # shellcheck disable=SC2016 # expanded inside the host
    in_host "$i" sh -c '
        set -e
        setsid -f containerd </dev/null >>/var/log/containerd.log 2>&1
        /usr/sbin/sshd -E /var/log/sshd.log
        n=0
        until [ -S /run/containerd/containerd.sock ]; do
            n=$((n + 1)); [ $n -lt 400 ] || { tail -20 /var/log/containerd.log >&2; echo "containerd did not start" >&2; exit 1; }; sleep 0.05
        done
        setsid -f dockerd </dev/null >>/var/log/dockerd.log 2>&1
        n=0
        until docker version >/dev/null 2>&1; do
            n=$((n + 1)); [ $n -lt 1200 ] || { tail -20 /var/log/dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }; sleep 0.05
        done
        docker load -q >/dev/null' <"$STATE/image.tar"

    # 127.0.0.1:PORT (root netns) -> unix socket -> control netns -> host's sshd.
    local sock=$STATE/fwd/$h.sock
    bg "$STATE/fwd/$h.log" nsenter --net="$NS/ctl.net" -- \
        socat "UNIX-LISTEN:$sock,fork,unlink-early,mode=600" "TCP:$addr:22"
    wait_for 10 "forwarder socket of $h" test -S "$sock"
    # Port 0: the kernel picks a free port and socat holds it from the bind on. (A port found
    # free, closed and then bound by socat could be taken in between, by another lab say.)
    bg "$STATE/fwd/$h.log" socat "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$sock"
    wait_for 10 "forwarder port of $h" forwarder_port "$sock"
    port=$(forwarder_port "$sock")
    # $STATE/fwd/<host>-docker.sock (root netns, mode 600) -> the host's /run/docker.sock: a
    # docker CLI outside the lab uses it as a build machine uses its engine.
    bg "$STATE/fwd/$h.log" socat "UNIX-LISTEN:$STATE/fwd/$h-docker.sock,fork,unlink-early,mode=600" \
        "EXEC:nsenter --mount=$NS/$h.mnt -- socat STDIO UNIX-CONNECT\:/run/docker.sock"
    wait_for 10 "docker socket forwarder of $h" test -S "$STATE/fwd/$h-docker.sock"
    echo "sshport $port"
}

# forwarder_port SOCK: the 127.0.0.1 port on which the socat that forwards to SOCK listens
# (ss -p names the listener's PID; its command line names SOCK); fails while there is none.
forwarder_port() {
    local line port pid
    while read -r line; do
        [[ $line =~ 127\.0\.0\.1:([0-9]+)\ .*pid=([0-9]+), ]] || continue
        port=${BASH_REMATCH[1]}
        pid=${BASH_REMATCH[2]}
        if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "UNIX-CONNECT:$1"; then
            echo "$port"
            return 0
        fi
    done < <(ss -Hltnp 'src 127.0.0.1')
    return 1
}

# Inode numbers of every namespace file of the lab (empty when its state folder is gone).
ns_inodes() {
    local f
    for f in "$NS"/*; do
        [[ -e $f ]] || continue
        if [[ $(stat -f -c %T "$f" 2>/dev/null) == nsfs ]]; then stat -L -c %i "$f"; fi
    done
}

# PIDs of processes inside any namespace of the lab, plus the lab's own unshare process.
lab_pids() {
    local inodes p t pidfile dir link
    inodes=" $(ns_inodes | xargs) "
    pidfile=$STATE/run/lab.pid
    if [[ -f $pidfile ]]; then
        read -r p t <"$pidfile" || true
        # Only if it is still the same process (start time matches) and not a zombie.
        if [[ -r /proc/$p/stat ]] && [[ $(proc_start "$p") == "$t" ]] && [[ $(proc_state "$p") != Z ]]; then
            echo "$p"
        fi
    fi
    [[ $inodes != "  " ]] || return 0  # no namespace file left
    # "/proc/123/ns net:[4026532288]" for every namespace link of every process.
    while read -r dir link; do
        [[ $link == *:\[*\] ]] || continue
        link=${link#*[}
        if [[ $inodes == *" ${link%]} "* ]]; then
            p=${dir#/proc/}
            p=${p%/ns}
            # A zombie holds no namespace any more; its parent reaps it.
            [[ $(proc_state "$p") == Z ]] || echo "$p"
        fi
    done < <(find /proc/[0-9]*/ns/ -maxdepth 1 -type l \( -name pid -o -name mnt -o -name net \
        -o -name uts -o -name ipc \) -printf '%h %l\n' 2>/dev/null)
}

# Fields of /proc/PID/stat after the command name: state is the 1st, start time the 20th.
proc_stat() { local s; { s=$(<"/proc/$1/stat"); } 2>/dev/null && echo "${s##*) }"; }
proc_start() { local s; s=$(proc_stat "$1") && echo "$s" | cut -d' ' -f20; }
proc_state() { local s; s=$(proc_stat "$1") && echo "${s%% *}"; }

# Mount points in the root mount namespace at or under folder $1.
mounts_under() {
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

cgroup_dirs() {
    local h
    for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
        [[ -d $h$ID ]] && echo "$h$ID"
    done
    return 0
}

cmd_down() {
    set_paths "$1"
    local pids p m d
    # 1. Processes: everything in the lab's namespaces, by PID, SIGKILL (the PID-namespace
    #    inits take their whole namespace with them).
    for _ in $(seq 1 100); do
        pids=$(lab_pids | sort -u)
        [[ -n $pids ]] || break
        for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
        sleep 0.05
    done
    [[ -z $(lab_pids) ]] || die "processes of $ID survived SIGKILL: $(lab_pids | tr '\n' ' ')"
    # 2. Mounts: the namespace files and their folder (nothing else of the lab is mounted in
    #    the root mount namespace).
    while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done < <(mounts_under "$STATE" | sort -r)
    # 3. Cgroups the dockerds made (empty now): deepest first.
    for _ in $(seq 1 40); do
        d=$(cgroup_dirs)
        [[ -n $d ]] || break
        # shellcheck disable=SC2086 # one word per folder
        find $d -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.05
    done
    # 4. Mount points made in the root filesystem, unless another lab still uses them.
    if [[ -f $STATE/created-dirs ]]; then
        local others
        others=$(find /tmp -maxdepth 1 -name 'pulumi-swarm-lab-*' ! -name "$ID" | head -1)
        if [[ -z $others ]]; then
            while read -r d; do rmdir "$d" 2>/dev/null || true; done <"$STATE/created-dirs"
        else
            # Hand them over to the other lab, which removes them when it goes.
            cat "$STATE/created-dirs" >>"$others/created-dirs" 2>/dev/null || true
        fi
    fi
    # 5. The state folder.
    if [[ -d $STATE ]]; then
        [[ -z $(mounts_under "$STATE") ]] || die "$STATE still has mounts"
        rm -rf --one-file-system "$STATE"
    fi
    [[ -z $(cmd_leftovers "$ID") ]] || die "leftovers: $(cmd_leftovers "$ID")"
}

cmd_leftovers() {
    set_paths "$1"
    local p
    for p in $(lab_pids | sort -u); do echo "process $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"; done
    mounts_under "$STATE" | sed 's/^/mount /'
    cgroup_dirs | sed 's/^/cgroup /'
    [[ ! -e $STATE ]] || echo "folder $STATE"
}

main() {
    [[ $# -ge 2 ]] || die "usage: lab.sh prepare|ctl-up|auth-registry|host-up|down|leftovers ID [args]"
    local cmd=$1
    shift
    case $cmd in
    prepare) cmd_prepare "$@" ;;
    ctl-up) cmd_ctl_up "$@" ;;
    auth-registry) cmd_auth_registry "$@" ;;
    host-up) cmd_host_up "$@" ;;
    down) cmd_down "$@" ;;
    leftovers) cmd_leftovers "$@" ;;
    *) die "unknown command $cmd" ;;
    esac
}

main "$@"
