#!/usr/bin/python3
"""An independent validator client of the axon, written from PROTOCOL.md alone.

Only Debian's packages: python3-nacl (Ed25519), python3-msgpack, python3-websockets and
python3-cryptography (RSA-OAEP). SS58, base58 and the signing strings are implemented here.

    client.py URL MINER_SS58 [--ram BYTES] [--no-allocate] [--hold]

Signs a Specs request, then an Allocate of a test container (checking false, a fresh RSA key),
verifies every reply's signature and miner hotkey, decrypts `info`, and de-allocates (with
--hold, only after a line arrives on stdin). Prints
one JSON object per step on stdout. Exit status 0 when every step worked, 3 when a reply's
signature or hotkey is wrong, 1 for any other failure.
"""
import asyncio
import base64
import hashlib
import itertools
import json
import os
import sys
import time
import uuid as uuidlib

import msgpack
import nacl.exceptions
import nacl.signing
import websockets
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SS58_PREFIX = 42


class BadSignature(Exception):
    pass


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + ALPHABET.index(ch)
    pad = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * pad + body


def ss58_checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(b"SS58PRE" + payload, digest_size=64).digest()[:2]


def ss58_encode(public_key: bytes) -> str:
    payload = bytes([SS58_PREFIX]) + public_key
    return b58encode(payload + ss58_checksum(payload))


def ss58_decode(address: str) -> bytes:
    raw = b58decode(address)
    if len(raw) != 35 or raw[0] != SS58_PREFIX:
        raise ValueError(f"{address}: not a prefix-42 SS58 address of a 32-byte key")
    payload, checksum = raw[:33], raw[33:]
    if ss58_checksum(payload) != checksum:
        raise ValueError(f"{address}: bad SS58 checksum")
    return payload[1:]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Client:
    def __init__(self, url: str, miner: str):
        self.url = url
        self.miner = miner
        self.miner_key = nacl.signing.VerifyKey(ss58_decode(miner))
        self.signing_key = nacl.signing.SigningKey(os.urandom(32))
        self.hotkey = ss58_encode(bytes(self.signing_key.verify_key))
        self.uuid = str(uuidlib.uuid4())
        self.ids = itertools.count(1)
        self.last_nonce = 0

    def nonce(self) -> int:
        # Microseconds, strictly increasing even within one microsecond.
        self.last_nonce = max(time.time_ns() // 1000, self.last_nonce + 1)
        return self.last_nonce

    async def call(self, ws, name: str, fields: dict, timeout: float = 60.0) -> dict:
        body = msgpack.packb(fields, use_bin_type=True)
        nonce = self.nonce()
        message = f"{nonce}.{self.hotkey}.{self.miner}.{self.uuid}.{name}.{sha256_hex(body)}"
        signature = self.signing_key.sign(message.encode("utf-8")).signature
        request_id = next(self.ids)
        frame = msgpack.packb({
            "v": 1,
            "id": request_id,
            "name": name,
            "timeout": float(timeout),
            "body": body,
            "dendrite": {"hotkey": self.hotkey, "nonce": nonce, "uuid": self.uuid, "signature": signature},
            "axon": {"hotkey": self.miner},
        }, use_bin_type=True)
        await ws.send(frame)
        while True:
            data = await asyncio.wait_for(ws.recv(), timeout + 5)
            if not isinstance(data, bytes):
                raise ValueError("the axon sent a text frame")
            reply = msgpack.unpackb(data, raw=False)
            if reply.get("id") == request_id:
                break
        return self.verify(reply)

    def verify(self, reply: dict) -> dict:
        axon = reply["axon"]
        if axon["hotkey"] != self.miner:
            raise BadSignature(f"reply signed as {axon['hotkey']}, expected {self.miner}")
        if not isinstance(axon["nonce"], int) or isinstance(axon["nonce"], bool):
            raise ValueError("axon.nonce is not an integer")
        body = reply.get("body")
        code = reply["status"]["code"]
        message = f"{axon['nonce']}.{axon['hotkey']}.{self.hotkey}.{self.uuid}.{reply['id']}.{code}.{sha256_hex(body or b'')}"
        try:
            self.miner_key.verify(message.encode("utf-8"), axon["signature"])
        except nacl.exceptions.BadSignatureError:
            raise BadSignature("reply signature does not verify")
        return {
            "code": code,
            "message": reply["status"]["message"],
            "body": msgpack.unpackb(body, raw=False) if body is not None else None,
            "process_time": reply["process_time"],
        }


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


async def main(argv: list) -> int:
    url, miner = argv[0], argv[1]
    ram = int(argv[argv.index("--ram") + 1]) if "--ram" in argv else 256 * 1024 * 1024
    client = Client(url, miner)
    async with websockets.connect(url, max_size=16 * 1024 * 1024, compression=None) as ws:
        specs = await client.call(ws, "Specs", {})
        if specs["code"] != 200:
            raise RuntimeError(f"Specs: {specs['code']} {specs['message']}")
        out = specs["body"]["specs_output"]
        emit(step="specs", code=specs["code"], signature="verified", sections=sorted(out.keys()), cpu_count=out["cpu"]["count"])
        if "--no-allocate" in argv:
            return 0

        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
        device = {"cpu": {"count": 1}, "ram": {"capacity": ram}, "hard_disk": {"capacity": 1024 ** 3}, "gpu": {}, "testing": True}
        allocated = await client.call(ws, "Allocate", {
            "checking": False, "timeline": 1 / 24, "device_requirement": device, "public_key": public_pem,
        })
        output = (allocated["body"] or {}).get("output", {})
        if allocated["code"] != 200 or output.get("status") is not True:
            raise RuntimeError(f"Allocate: {allocated['code']} {allocated['message']} {output.get('error')}")
        try:
            plaintext = private_key.decrypt(base64.b64decode(output["info"], validate=True), padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
            credentials = json.loads(plaintext)
            emit(step="allocate", code=allocated["code"], signature="verified", status=True, port=output["port"],
                 credential_keys=sorted(credentials.keys()), username=credentials["username"],
                 credential_port=credentials["port"], password=credentials["password"])
            if "--hold" in argv:
                # Keep the container until a line (or EOF) arrives on stdin, e.g. while someone logs in.
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        finally:
            released = await client.call(ws, "Allocate", {"checking": False, "timeline": 0, "public_key": public_pem})
            status = ((released["body"] or {}).get("output") or {}).get("status")
            emit(step="deallocate", code=released["code"], signature="verified", status=status)
        return 0 if status is True else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except BadSignature as err:
        emit(step="error", kind="signature", error=str(err))
        sys.exit(3)
    except Exception as err:  # one line for the test to read, not a traceback
        emit(step="error", kind=type(err).__name__, error=str(err))
        sys.exit(1)
