#!/usr/bin/env bash
# Installs what tools/testhost (the remoting test hosts: tests/RemoteJoin.Tests.ps1,
# tools/bench/RemoteJoin.ps1) needs that a Debian machine may lack: the OpenSSH server.
# Idempotent: does nothing when /usr/sbin/sshd (and the ssh client) are present.
# Installing must not start a system sshd on port 22: while apt runs, a policy-rc.d that
# exits 101 forbids service starts (only when the machine has no policy-rc.d of its own;
# the one written here is removed afterwards, also on failure).
# Needs root and Debian's apt. Usage: tools/testhost/Install-Prerequisites.sh
set -euo pipefail

need=()
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
if ((${#need[@]} == 0)); then
  echo "Install-Prerequisites: openssh-server and openssh-client are present"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "Install-Prerequisites: installing ${need[*]} needs root" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
wrote_policy=0
cleanup() { if ((wrote_policy)); then rm -f "$policy"; fi; }
trap cleanup EXIT
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# written by PSSwarm tools/testhost/Install-Prerequisites.sh while apt runs: start no service\nexit 101\n' > "$policy"
  chmod 0755 "$policy"
  wrote_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "Install-Prerequisites: installed ${need[*]}"
