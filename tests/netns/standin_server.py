#!/usr/bin/env python3
"""A stand-in for `waypost server` / `waypost users`, built from wireguard-go, wg, ip and nft.

Only for validating test_server.sh's lab (topology, clients, HTTP, assertions) without the
Waypost binary: run the test with WPT_WAYPOST_IMPL=wireguard-go. It implements the subset of
the server contract that the test uses, with the same files and key names:

  server init --dir DIR --endpoint HOST --users a,b [--interface IF] [--port N] [--ipv6 on|off]
  server up --dir DIR [--log-level L] [--log-file F]     (foreground; SIGTERM undoes everything)
  server status --dir DIR [--json]
  users add|remove|show NAME --dir DIR [--qr]
  users list --dir DIR

`server up` must run inside the server's namespace (ip netns exec); it starts wireguard-go
there as its child. Its config.yaml is a flat subset of the real one (top-level `key: value`
lines and the `users:` list). The PNG and mobileconfig files are placeholders.
"""

import argparse
import ipaddress
import json
import os
import secrets
import signal
import subprocess
import sys
import time

UAPI_DIR = "/var/run/wireguard"


def sh(*cmd, inp=None, check=True):
    r = subprocess.run(cmd, input=inp, capture_output=True, text=True, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout.strip()


def genkey():
    return sh("wg", "genkey")


def pubkey(priv):
    return sh("wg", "pubkey", inp=priv + "\n")


# --- config.yaml (flat subset) -----------------------------------------------------------------

DEFAULTS = [
    ("wireguard_port", "51820"), ("wireguard_network_ipv4", "10.49.0.0/16"),
    ("wireguard_network_ipv6", ""), ("ipv6", "true"), ("BetweenClients_DROP", "true"),
    ("block_smb", "true"), ("block_netbios", "true"), ("dns_adblocking", "false"),
    ("dns_encryption", "false"), ("reduce_mtu", "0"), ("endpoint", ""),
    ("wireguard_interface", "wp0"), ("metrics_listen", '""'),
]


def render_config(cfg):
    out = ["# stand-in server config (test_server.sh validation)", "users:"]
    out += [f"  - {u}" for u in cfg["users"]]
    for k, _ in DEFAULTS:
        out.append(f"{k}: {cfg[k]}")
    out += ["dns_servers:", "  ipv4: [1.1.1.1, 1.0.0.1]", "  ipv6: ['2606:4700:4700::1111']"]
    return "\n".join(out) + "\n"


def load_config(d):
    cfg = dict(DEFAULTS)
    cfg["users"] = []
    in_users = False
    with open(os.path.join(d, "config.yaml")) as f:
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            if not line:
                continue
            if in_users and line.lstrip().startswith("- "):
                cfg["users"].append(line.lstrip()[2:].strip())
                continue
            in_users = False
            if line.startswith(" "):
                continue  # nested values (dns_servers)
            k, _, v = line.partition(":")
            if k == "users":
                in_users = True
                continue
            if k == "dns_servers":
                continue
            if k not in cfg:
                raise RuntimeError(f"config.yaml: unknown key '{k}'")
            cfg[k] = v.strip()
    return cfg


def truthy(v):
    return v.lower() in ("true", "yes", "on", "1")


def save_config(d, cfg):
    write_file(os.path.join(d, "config.yaml"), render_config(cfg), 0o644)


def write_file(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


# --- state.json ----------------------------------------------------------------------------------

def load_state(d):
    try:
        with open(os.path.join(d, "state.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"private_key": "", "public_key": "", "users": {}}


def save_state(d, st):
    write_file(os.path.join(d, "state.json"), json.dumps(st, indent=2) + "\n", 0o600)


def reconcile(cfg, st):
    if not st["private_key"]:
        st["private_key"] = genkey()
        st["public_key"] = pubkey(st["private_key"])
    net4 = ipaddress.ip_network(cfg["wireguard_network_ipv4"])
    net6 = ipaddress.ip_network(cfg["wireguard_network_ipv6"]) if cfg["wireguard_network_ipv6"] else None
    added = []
    for name in list(st["users"]):
        if name not in cfg["users"]:
            del st["users"][name]
    used4 = {u["ipv4"] for u in st["users"].values()}
    for name in cfg["users"]:
        if name in st["users"]:
            continue
        i = 2
        while str(net4[i]) in used4:
            i += 1
        priv = genkey()
        st["users"][name] = {
            "private_key": priv, "public_key": pubkey(priv), "preshared_key": sh("wg", "genpsk"),
            "ipv4": str(net4[i]), "ipv6": str(net6[i]) if net6 and truthy(cfg["ipv6"]) else None,
        }
        used4.add(str(net4[i]))
        added.append(name)
    return added


def bundle_dir(d, cfg):
    return os.path.join(d, "configs", cfg["endpoint"], "wireguard")


def client_conf(cfg, st, name):
    u = st["users"][name]
    addrs = f"{u['ipv4']}/32" + (f", {u['ipv6']}/128" if u["ipv6"] else "")
    ep = cfg["endpoint"]
    ep = f"[{ep}]" if ":" in ep else ep
    return (f"[Interface]\nPrivateKey = {u['private_key']}\nAddress = {addrs}\n"
            f"DNS = 1.1.1.1, 1.0.0.1\nMTU = {1420 - int(cfg['reduce_mtu'])}\n\n"
            f"[Peer]\nPublicKey = {st['public_key']}\nPresharedKey = {u['preshared_key']}\n"
            f"AllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = {ep}:{cfg['wireguard_port']}\n")


def write_bundle(d, cfg, st, name):
    b = bundle_dir(d, cfg)
    write_file(os.path.join(b, f"{name}.conf"), client_conf(cfg, st, name))
    write_file(os.path.join(b, f"{name}.png"), b"\x89PNG\r\n\x1a\nstand-in")
    plist = ('<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
             f"<key>PayloadDisplayName</key><string>{name}</string></dict></plist>\n")
    for os_ in ("ios", "macos"):
        write_file(os.path.join(b, "apple", os_, f"{name}.mobileconfig"), plist)


def remove_bundle(d, cfg, name):
    b = bundle_dir(d, cfg)
    for p in (f"{name}.conf", f"{name}.png", f"apple/ios/{name}.mobileconfig",
              f"apple/macos/{name}.mobileconfig"):
        try:
            os.unlink(os.path.join(b, p))
        except FileNotFoundError:
            pass


# --- the running interface -------------------------------------------------------------------

def running(cfg):
    ifn = cfg["wireguard_interface"]
    return os.path.exists(f"{UAPI_DIR}/{ifn}.sock") and \
        subprocess.run(["wg", "show", ifn], capture_output=True, timeout=10).returncode == 0


def peer_allowed(u):
    return f"{u['ipv4']}/32" + (f",{u['ipv6']}/128" if u["ipv6"] else "")


def set_peer(ifn, u):
    sh("wg", "set", ifn, "peer", u["public_key"], "preshared-key", "/dev/stdin",
       "allowed-ips", peer_allowed(u), inp=u["preshared_key"] + "\n")


def sync_live(cfg, st, removed_pubs=()):
    if not running(cfg):
        return
    ifn = cfg["wireguard_interface"]
    for pub in removed_pubs:
        sh("wg", "set", ifn, "peer", pub, "remove")
    for u in st["users"].values():
        set_peer(ifn, u)


def nft_script(cfg):
    t, wg = "waypost-" + cfg["wireguard_interface"], cfg["wireguard_interface"]
    s = f"add table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n"
    s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n"
    s += f"    ip saddr {cfg['wireguard_network_ipv4']} oifname != \"{wg}\" masquerade\n"
    if truthy(cfg["ipv6"]):
        s += f"    ip6 saddr {cfg['wireguard_network_ipv6']} oifname != \"{wg}\" masquerade\n"
    s += "  }\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n"
    if truthy(cfg["BetweenClients_DROP"]):
        s += f"    iifname \"{wg}\" oifname \"{wg}\" drop\n"
    if truthy(cfg["block_smb"]):
        s += f"    iifname \"{wg}\" tcp dport 445 drop\n"
    if truthy(cfg["block_netbios"]):
        s += f"    iifname \"{wg}\" udp dport {{ 137, 138 }} drop\n    iifname \"{wg}\" tcp dport 139 drop\n"
    return s + "  }\n}\n"


def sysctl_path(key):
    return "/proc/sys/" + key.replace(".", "/")


def server_up(args):
    log = open(args.log_file, "a") if args.log_file else sys.stderr

    def say(msg):
        print(f"{time.strftime('%H:%M:%S')} stand-in: {msg}", file=log, flush=True)

    cfg = load_config(args.dir)
    st = load_state(args.dir)
    for name in reconcile(cfg, st):
        write_bundle(args.dir, cfg, st, name)
    save_state(args.dir, st)
    ifn = cfg["wireguard_interface"]
    restore = {}
    child = None
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        for key in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"):
            with open(sysctl_path(key)) as f:
                old = f.read().strip()
            if old != "1":
                with open(sysctl_path(key), "w") as f:
                    f.write("1")
                restore[key] = old
        env = dict(os.environ, LOG_LEVEL="verbose" if args.log_level == "debug" else "error")
        child = subprocess.Popen(["wireguard-go", "-f", ifn], env=env, stdout=log, stderr=log)
        for _ in range(100):
            if os.path.exists(f"{UAPI_DIR}/{ifn}.sock"):
                break
            time.sleep(0.1)
        pk = st["private_key"]
        sh("wg", "set", ifn, "private-key", "/dev/stdin", "listen-port", cfg["wireguard_port"],
           inp=pk + "\n")
        for u in st["users"].values():
            set_peer(ifn, u)
        net4 = ipaddress.ip_network(cfg["wireguard_network_ipv4"])
        sh("ip", "addr", "add", f"{net4[1]}/{net4.prefixlen}", "dev", ifn)
        if truthy(cfg["ipv6"]) and cfg["wireguard_network_ipv6"]:
            net6 = ipaddress.ip_network(cfg["wireguard_network_ipv6"])
            sh("ip", "-6", "addr", "add", f"{net6[1]}/{net6.prefixlen}", "dev", ifn, "nodad")
        sh("ip", "link", "set", "dev", ifn, "mtu", "1420", "up")
        sh("nft", "-f", "-", inp=nft_script(cfg))
        say(f"server {ifn} ready: {len(st['users'])} user(s), endpoint {cfg['endpoint']}:{cfg['wireguard_port']}")
        while not stop and child.poll() is None:
            time.sleep(0.1)
        say("stopping")
        return 0
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        sh("nft", "delete", "table", "inet", "waypost-" + ifn, check=False)
        for key, old in restore.items():
            with open(sysctl_path(key), "w") as f:
                f.write(old)


def status(args):
    cfg = load_config(args.dir)
    st = load_state(args.dir)
    live = {}
    run = running(cfg)
    if run:
        for line in sh("wg", "show", cfg["wireguard_interface"], "dump").splitlines()[1:]:
            f = line.split("\t")
            live[f[0]] = {"endpoint": None if f[2] == "(none)" else f[2], "latest_handshake": int(f[4]),
                          "rx_bytes": int(f[5]), "tx_bytes": int(f[6])}
    now = int(time.time())
    users = []
    for name in cfg["users"]:
        u = st["users"].get(name)
        if not u:
            continue
        lv = live.get(u["public_key"], {"endpoint": None, "latest_handshake": 0, "rx_bytes": 0, "tx_bytes": 0})
        hs = lv["latest_handshake"]
        users.append({"name": name, "public_key": u["public_key"], "ipv4": u["ipv4"], "ipv6": u["ipv6"],
                      "endpoint": lv["endpoint"], "latest_handshake": hs or None,
                      "latest_handshake_age_seconds": (now - hs) if hs else None,
                      "rx_bytes": lv["rx_bytes"], "tx_bytes": lv["tx_bytes"]})
    out = {"running": run, "interface": cfg["wireguard_interface"], "endpoint": cfg["endpoint"],
           "port": int(cfg["wireguard_port"]), "public_key": st["public_key"], "users": users}
    print(json.dumps(out, indent=2) if args.json else "\n".join(f"{u['name']} {u['ipv4']}" for u in users))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="group", required=True)
    srv = sub.add_parser("server").add_subparsers(dest="cmd", required=True)
    i = srv.add_parser("init")
    i.add_argument("--dir", required=True)
    i.add_argument("--endpoint", required=True)
    i.add_argument("--users", default="")
    i.add_argument("--interface", default="wp0")
    i.add_argument("--port", default="51820")
    i.add_argument("--ipv6", default="on")
    u = srv.add_parser("up")
    u.add_argument("--dir", required=True)
    u.add_argument("--log-level", default="info")
    u.add_argument("--log-file")
    s = srv.add_parser("status")
    s.add_argument("--dir", required=True)
    s.add_argument("--json", action="store_true")
    usr = sub.add_parser("users").add_subparsers(dest="cmd", required=True)
    for c in ("add", "remove", "show"):
        a = usr.add_parser(c)
        a.add_argument("name")
        a.add_argument("--dir", required=True)
        a.add_argument("--qr", action="store_true")
    usr.add_parser("list").add_argument("--dir", required=True)
    args = p.parse_args()

    if args.group == "server" and args.cmd == "init":
        os.makedirs(args.dir, exist_ok=True)
        cfg = dict(DEFAULTS)
        cfg.update(users=[x for x in args.users.split(",") if x], endpoint=args.endpoint,
                   wireguard_interface=args.interface, wireguard_port=args.port,
                   ipv6="true" if args.ipv6 == "on" else "false",
                   wireguard_network_ipv6=f"fd{secrets.token_hex(1)}:{secrets.token_hex(2)}:{secrets.token_hex(2)}::/48")
        st = load_state(args.dir)
        reconcile(cfg, st)
        save_config(args.dir, cfg)
        save_state(args.dir, st)
        for name in cfg["users"]:
            write_bundle(args.dir, cfg, st, name)
        return 0
    if args.group == "server" and args.cmd == "up":
        return server_up(args)
    if args.group == "server":
        return status(args)
    cfg = load_config(args.dir)
    st = load_state(args.dir)
    if args.cmd == "list":
        print("\n".join(cfg["users"]))
        return 0
    if args.cmd == "show":
        if args.name not in st["users"]:
            print(f"unknown user '{args.name}'", file=sys.stderr)
            return 1
        print(client_conf(cfg, st, args.name), end="")
        return 0
    if args.cmd == "add":
        if args.name in cfg["users"]:
            print(f"user '{args.name}' exists", file=sys.stderr)
            return 1
        cfg["users"].append(args.name)
        reconcile(cfg, st)
        save_config(args.dir, cfg)
        save_state(args.dir, st)
        write_bundle(args.dir, cfg, st, args.name)
        sync_live(cfg, st)
        return 0
    if args.name not in cfg["users"]:
        print(f"unknown user '{args.name}'", file=sys.stderr)
        return 1
    pub = st["users"][args.name]["public_key"]
    cfg["users"].remove(args.name)
    reconcile(cfg, st)
    save_config(args.dir, cfg)
    save_state(args.dir, st)
    remove_bundle(args.dir, cfg, args.name)
    sync_live(cfg, st, [pub])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"stand-in: {e}", file=sys.stderr)
        sys.exit(1)
