#!/usr/bin/env python3
"""Loads sample client bundles with Python's plistlib, an independent plist parser, to catch
profiles that are well-formed enough for our own checks but not for Apple's tools: the WireGuard
profiles and the IKEv2 ones (VPN, PKCS#12 and CA payloads), whose on-demand rules must be the
WireGuard profile's for the same settings.

Usage: plist_check.py <write_sample_bundles binary>
"""
import base64
import json
import os
import plistlib
import shutil
import ssl
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


def check_on_demand(path, wifi, cellular, exclude, vpn=None):
    if vpn is None:
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


IKEV2_SA = {"EncryptionAlgorithm": "AES-256-GCM", "IntegrityAlgorithm": "SHA2-512",
            "DiffieHellmanGroup": 20, "LifeTimeInMinutes": 1440}


def check_uuid(path, uuid):
    if not isinstance(uuid, str) or len(uuid) != 36 or uuid != uuid.upper():
        fail(f"{path}: bad PayloadUUID {uuid!r}")


def check_ikev2_profile(path, user, sample, ca_pem_path):
    """The IKEv2 profile's three payloads; returns its (PayloadUUID, PayloadIdentifier) pairs."""
    p = load(path)
    if p.get("PayloadType") != "Configuration" or p.get("PayloadVersion") != 1:
        fail(f"{path}: top-level payload type/version")
    content = p.get("PayloadContent")
    if not isinstance(content, list) or len(content) != 3:
        fail(f"{path}: PayloadContent must hold three payloads")
    types = [c.get("PayloadType") for c in content]
    if types != ["com.apple.vpn.managed", "com.apple.security.pkcs12", "com.apple.security.root"]:
        fail(f"{path}: payload types {types!r}")
    vpn, pkcs12, root = content
    if vpn.get("VPNType") != "IKEv2" or "VPNSubType" in vpn:
        fail(f"{path}: VPNType {vpn.get('VPNType')!r}")
    if vpn.get("IPv4") != {"OverridePrimary": 1}:
        fail(f"{path}: IPv4 {vpn.get('IPv4')!r}")
    ikev2 = vpn.get("IKEv2", {})
    expected = {
        "RemoteAddress": "vpn.example.com",
        "RemoteIdentifier": "vpn.example.com",
        "LocalIdentifier": sample["users"][user]["user_id"],
        "AuthenticationMethod": "Certificate",
        "CertificateType": "ECDSA384",
        "ServerCertificateIssuerCommonName": "vpn.example.com",
        "PayloadCertificateUUID": pkcs12.get("PayloadUUID"),
        "ExtendedAuthEnabled": 0,
        "DeadPeerDetectionRate": "Medium",
        "DisableMOBIKE": 0,
        "DisableRedirect": 1,
        "EnableCertificateRevocationCheck": 0,
        "EnablePFS": 1,
        "UseConfigurationAttributeInternalIPSubnet": 0,
        "IKESecurityAssociationParameters": IKEV2_SA,
        "ChildSecurityAssociationParameters": IKEV2_SA,
    }
    for key, value in expected.items():
        if ikev2.get(key) != value:
            fail(f"{path}: IKEv2.{key} is {ikev2.get(key)!r}, expected {value!r}")
    # The PKCS#12 payload carries the user's .p12 as written beside it, with its password.
    p12 = base64.b64decode(sample["users"][user]["p12"])
    if pkcs12.get("PayloadContent") != p12:
        fail(f"{path}: the PKCS#12 payload differs from the sample's .p12")
    if pkcs12.get("Password") != sample["p12_password"]:
        fail(f"{path}: PKCS#12 password")
    if pkcs12.get("PayloadCertificateFileName") != user + ".p12":
        fail(f"{path}: PayloadCertificateFileName {pkcs12.get('PayloadCertificateFileName')!r}")
    if shutil.which("openssl"):
        opened = subprocess.run(
            ["openssl", "pkcs12", "-nokeys", "-clcerts", "-passin", "env:WP_P12_PASSWORD"],
            input=pkcs12["PayloadContent"], capture_output=True,
            env=dict(os.environ, WP_P12_PASSWORD=sample["p12_password"]))
        if opened.returncode != 0 or b"BEGIN CERTIFICATE" not in opened.stdout:
            fail(f"{path}: openssl cannot open the PKCS#12 payload: {opened.stderr!r}")
    # The CA payload is the DER of manual/cacert.pem.
    with open(ca_pem_path, encoding="ascii") as f:
        ca_der = ssl.PEM_cert_to_DER_cert(f.read())
    if root.get("PayloadContent") != ca_der or ca_der != base64.b64decode(sample["ca_der"]):
        fail(f"{path}: the CA payload is not manual/cacert.pem")
    ids = []
    for payload in (p, vpn, pkcs12, root):
        check_uuid(path, payload.get("PayloadUUID"))
        if payload.get("PayloadVersion") != 1:
            fail(f"{path}: PayloadVersion of {payload.get('PayloadType')}")
        ident = payload.get("PayloadIdentifier")
        if not isinstance(ident, str) or not ident.startswith("com.waypost.ikev2."):
            fail(f"{path}: PayloadIdentifier {ident!r}")
        ids += [payload["PayloadUUID"], ident]
    return ids


def wireguard_ids(path):
    p = load(path)
    vpn = p["PayloadContent"][0]
    return [p["PayloadUUID"], p["PayloadIdentifier"], vpn["PayloadUUID"], vpn["PayloadIdentifier"]]


def check_mode(path, expected):
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode != expected:
        fail(f"{path}: mode {mode:o}, expected {expected:o}")


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
                check_mode(path, 0o600)

        # IKEv2: the Apple profile of each user, and the modes of all its files.
        with open(os.path.join(d, "ikev2-sample.json"), encoding="utf-8") as f:
            sample = json.load(f)
        ipsec = os.path.join(d, "configs", "vpn.example.com", "ipsec")
        ca_pem = os.path.join(ipsec, "manual", "cacert.pem")
        check_mode(ca_pem, 0o644)
        all_ids = []
        for user in ("phone", "alice@example.com"):
            path = os.path.join(ipsec, "apple", user + ".mobileconfig")
            all_ids += check_ikev2_profile(path, user, sample, ca_pem)
            for os_name in ("ios", "macos"):
                all_ids += wireguard_ids(os.path.join(base, "apple", os_name, user + ".mobileconfig"))
            with open(os.path.join(ipsec, "manual", user + ".p12"), "rb") as f:
                if f.read() != base64.b64decode(sample["users"][user]["p12"]):
                    fail(f"manual/{user}.p12 differs from the sample's .p12")
            for name in ("manual/{}.p12", "manual/{}.conf", "manual/{}.secrets",
                         "apple/{}.mobileconfig", "swanctl/{}.conf", "android/{}.sswan",
                         "windows/{}.ps1"):
                check_mode(os.path.join(ipsec, name.format(user)), 0o600)
        # Both kinds of profile can be installed side by side: no UUID or identifier in common.
        repeated = sorted({i for i in all_ids if all_ids.count(i) > 1})
        if repeated:
            fail(f"UUIDs or PayloadIdentifiers used twice: {repeated!r}")

        for wifi in (0, 1):
            for cellular in (0, 1):
                for exclude in (0, 1):
                    name = f"ondemand-w{wifi}-c{cellular}-x{exclude}.mobileconfig"
                    path = os.path.join(d, name)
                    check_on_demand(path, bool(wifi), bool(cellular), bool(exclude))
                    ikev2_path = os.path.join(d, "ikev2-" + name)
                    ikev2 = load(ikev2_path)["PayloadContent"][0]["IKEv2"]
                    check_on_demand(ikev2_path, bool(wifi), bool(cellular), bool(exclude), ikev2)
                    wg = load(path)["PayloadContent"][0]["VPN"]
                    for key in ("OnDemandEnabled", "OnDemandRules"):
                        if ikev2.get(key) != wg.get(key):
                            fail(f"{ikev2_path}: {key} differs from the WireGuard profile's")
    print("plist_check: all profiles load and carry the expected keys")


if __name__ == "__main__":
    main()
