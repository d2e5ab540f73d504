#!/usr/bin/env python3
"""Loads sample client bundles with Python's plistlib, an independent plist parser, to catch
profiles that are well-formed enough for our own checks but not for Apple's tools.

Usage: plist_check.py <write_sample_bundles binary>
"""
import os
import plistlib
import stat
import subprocess
import sys
import tempfile

CAPTIVE_PROBE = "http://captive.apple.com/hotspot-detect.html"
EXCLUDED = ["home", "<Caf\u00e9 & \"Bar's\">"]


def fail(message):
    print("plist_check: " + message, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path, "rb") as f:
        try:
            return plistlib.load(f, fmt=plistlib.FMT_XML)
        except Exception as e:  # plistlib raises several types for malformed input
            fail(f"{path}: not a valid plist: {e}")


def check_profile(path, subtype, conf_text):
    p = load(path)
    if p.get("PayloadType") != "Configuration" or p.get("PayloadVersion") != 1:
        fail(f"{path}: top-level payload type/version")
    content = p.get("PayloadContent")
    if not isinstance(content, list) or len(content) != 1:
        fail(f"{path}: PayloadContent must hold one payload")
    vpn = content[0]
    if vpn.get("PayloadType") != "com.apple.vpn.managed" or vpn.get("VPNType") != "VPN":
        fail(f"{path}: VPN payload type")
    if vpn.get("VPNSubType") != subtype:
        fail(f"{path}: VPNSubType {vpn.get('VPNSubType')!r}, expected {subtype!r}")
    wg = vpn.get("VendorConfig", {}).get("WgQuickConfig", "")
    if wg != conf_text:
        fail(f"{path}: WgQuickConfig differs from the .conf file")
    private_key = [l for l in conf_text.splitlines() if l.startswith("PrivateKey = ")]
    if len(private_key) != 1 or private_key[0] not in wg:
        fail(f"{path}: WgQuickConfig lacks the PrivateKey")
    if vpn.get("VPN", {}).get("RemoteAddress") != "vpn.example.com:51820":
        fail(f"{path}: RemoteAddress")
    for uuid in (p.get("PayloadUUID"), vpn.get("PayloadUUID")):
        if not isinstance(uuid, str) or len(uuid) != 36 or uuid != uuid.upper():
            fail(f"{path}: bad PayloadUUID {uuid!r}")
    return p


def check_on_demand(path, wifi, cellular, exclude):
    vpn = load(path)["PayloadContent"][0]["VPN"]
    on = wifi or cellular
    if vpn.get("OnDemandEnabled") != (1 if on else 0):
        fail(f"{path}: OnDemandEnabled {vpn.get('OnDemandEnabled')}")
    expected = []
    if on:
        if exclude:
            expected.append({"Action": "Disconnect", "InterfaceTypeMatch": "WiFi",
                             "SSIDMatch": EXCLUDED})
        for connect, kind in ((wifi, "WiFi"), (cellular, "Cellular")):
            rule = {"Action": "Connect" if connect else "Disconnect", "InterfaceTypeMatch": kind}
            if connect:
                rule["URLStringProbe"] = CAPTIVE_PROBE
            expected.append(rule)
    expected.append({"Action": "Disconnect" if on else "Connect"})
    if vpn.get("OnDemandRules") != expected:
        fail(f"{path}: OnDemandRules {vpn.get('OnDemandRules')!r}, expected {expected!r}")


def main():
    if len(sys.argv) != 2:
        fail("usage: plist_check.py <write_sample_bundles>")
    with tempfile.TemporaryDirectory(prefix="wp-plist-") as d:
        subprocess.run([sys.argv[1], d], check=True)
        base = os.path.join(d, "configs", "vpn.example.com", "wireguard")
        for user in ("phone", "alice@example.com"):
            conf_path = os.path.join(base, user + ".conf")
            with open(conf_path, encoding="utf-8") as f:
                conf_text = f.read()
            paths = [conf_path, os.path.join(base, user + ".png")]
            for os_name, subtype in (("ios", "com.wireguard.ios"),
                                     ("macos", "com.wireguard.macos")):
                path = os.path.join(base, "apple", os_name, user + ".mobileconfig")
                check_profile(path, subtype, conf_text)
                paths.append(path)
            for path in paths:
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if mode != 0o600:
                    fail(f"{path}: mode {mode:o}, expected 600")
        for wifi in (0, 1):
            for cellular in (0, 1):
                for exclude in (0, 1):
                    path = os.path.join(d, f"ondemand-w{wifi}-c{cellular}-x{exclude}.mobileconfig")
                    check_on_demand(path, bool(wifi), bool(cellular), bool(exclude))
    print("plist_check: all profiles load and carry the expected keys")


if __name__ == "__main__":
    main()
