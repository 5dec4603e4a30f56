// The validator's own probe program, uploaded by SFTP into a rental and run there with the
// container's python3 (standard library only; PyTorch when the image has it, for GPUs).
// Its sha256 is checked in the container before it runs. Protocol on stdin/stdout, one JSON
// object a line, nothing on stderr:
//   out  {"measured": {...}}                                  at start
//   in   {"op": "commit", "kind": "cpu"|"gpu", "seed": hex, "n", "p", "rounds", "blocks"}
//   out  {"root": hex, "blocks": N, "workers": W}  or  {"root": null, "reason": "..."} (no GPU)
//   in   {"op": "open", "indices": [i, ...]}
//   out  {"openings": [{"index": i, "result": hex, "path": [hex, ...]}, ...]}
//   in   {"op": "exit"}
// The block workload and the Merkle tree are defined in workload.ts and merkle.ts, which
// compute the same bytes on the validator's side.
import { createHash } from 'node:crypto';

export const PROBE_PROGRAM = String.raw`
import hashlib, json, os, shutil, subprocess, sys

def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None

def parse_cpuset(text):
    count = 0
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            count += int(b) - int(a) + 1
        else:
            count += 1
    return count

def cores():
    out = {}
    try:
        out["affinity"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        out["affinity"] = None
    out["online"] = os.cpu_count()
    nproc = shutil.which("nproc")
    out["nproc"] = None
    if nproc:
        r = subprocess.run([nproc], capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and r.stdout.strip().isdigit():
            out["nproc"] = int(r.stdout.strip())
    cpuset = read_text("/sys/fs/cgroup/cpuset.cpus.effective") or read_text("/sys/fs/cgroup/cpuset/cpuset.effective_cpus") or read_text("/sys/fs/cgroup/cpuset/cpuset.cpus")
    out["cpuset"] = parse_cpuset(cpuset) if cpuset else None
    quota = None
    v2 = read_text("/sys/fs/cgroup/cpu.max")
    if v2:
        q, _, period = v2.partition(" ")
        if q != "max" and period:
            quota = int(q) / int(period)
    else:
        q = read_text("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        period = read_text("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if q and period and int(q) > 0:
            quota = int(q) / int(period)
    out["quota"] = quota
    usable = [v for v in (out["affinity"], out["nproc"], out["cpuset"], out["online"]) if v]
    count = min(usable) if usable else 1
    if quota is not None:
        count = min(count, max(1, int(quota + 0.999)))
    out["count"] = count
    return out

def memory():
    limit = None
    v2 = read_text("/sys/fs/cgroup/memory.max")
    if v2 is not None:
        source = "cgroup v2 memory.max"
        if v2 != "max":
            limit = int(v2)
    else:
        v1 = read_text("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        source = "cgroup v1 memory.limit_in_bytes"
        if v1 is not None and int(v1) < (1 << 62):
            limit = int(v1)
    total = None
    meminfo = read_text("/proc/meminfo") or ""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    if limit is None:
        source = "MemTotal (no cgroup limit)"
    usable = min(v for v in (limit, total) if v is not None) if (limit or total) else None
    return {"bytes": usable, "limit": limit, "host_total": total, "source": source}

def disk():
    s = os.statvfs("/")
    return {"bytes": s.f_blocks * s.f_frsize, "free": s.f_bavail * s.f_frsize}

def gpus():
    found = []
    notes = []
    smi = shutil.which("nvidia-smi")
    if smi:
        r = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            for line in r.stdout.splitlines():
                name, _, mib = line.rpartition(",")
                if name.strip():
                    found.append({"name": name.strip(), "memory_mib": int(float(mib.strip() or 0))})
        else:
            notes.append("nvidia-smi failed (exit %d)" % r.returncode)
    else:
        notes.append("nvidia-smi not found")
    torch_gpus = None
    try:
        import torch
        if torch.cuda.is_available():
            torch_gpus = []
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                torch_gpus.append({"name": p.name, "memory_mib": p.total_memory // (1024 * 1024)})
        else:
            notes.append("torch has no CUDA device")
    except ImportError:
        notes.append("torch not importable")
    if not found and torch_gpus:
        found = torch_gpus
    return {"gpus": found, "torch": torch_gpus, "note": "; ".join(notes) if not found else None}

def matrix(seed, tag, i, n, p):
    raw = hashlib.shake_128(seed + tag + i.to_bytes(4, "little")).digest(2 * n * n)
    return [[int.from_bytes(raw[2 * (r * n + c):2 * (r * n + c) + 2], "little") % p for c in range(n)] for r in range(n)]

def digest_rows(rows):
    h = hashlib.sha256()
    for row in rows:
        h.update(b"".join(int(v).to_bytes(4, "little") for v in row))
    return h.digest()

def cpu_block(args):
    seed, i, n, p, rounds = args
    a = matrix(seed, b"A", i, n, p)
    bt = list(zip(*matrix(seed, b"B", i, n, p)))
    for _ in range(rounds):
        a = [[sum(x * y for x, y in zip(row, col)) % p for col in bt] for row in a]
    return digest_rows(a)

def gpu_blocks(seed, n, p, rounds, blocks):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    devices = [torch.device("cuda", d) for d in range(torch.cuda.device_count())]
    def load(tag, i, dev):
        raw = hashlib.shake_128(seed + tag + i.to_bytes(4, "little")).digest(2 * n * n)
        u = torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(dev).view(-1, 2).to(torch.int64)
        return ((u[:, 0] + 256 * u[:, 1]) % p).view(n, n).to(torch.float32)
    out = []
    for i in range(blocks):
        dev = devices[i % len(devices)]
        a = load(b"A", i, dev)
        b = load(b"B", i, dev)
        for _ in range(rounds):
            a = torch.remainder(a @ b, p)
        out.append(digest_rows(a.to(torch.int64).cpu().tolist()))
    return out

def merkle_levels(leaves):
    level = [hashlib.sha256(b"\x00" + i.to_bytes(4, "little") + r).digest() for i, r in enumerate(leaves)]
    levels = [level]
    while len(level) > 1:
        level = [hashlib.sha256(b"\x01" + level[k] + level[k + 1]).digest() for k in range(0, len(level), 2)]
        levels.append(level)
    return levels

def path_of(levels, index):
    path = []
    for level in levels[:-1]:
        path.append(level[index ^ 1].hex())
        index //= 2
    return path

def main():
    usable = cores()
    emit({"measured": {"cores": usable, "memory": memory(), "disk": disk(), "gpu": gpus()}})
    results = None
    levels = None
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg.get("op")
        if op == "commit":
            seed = bytes.fromhex(msg["seed"])
            n, p, rounds, blocks = int(msg["n"]), int(msg["p"]), int(msg["rounds"]), int(msg["blocks"])
            if msg.get("kind") == "gpu":
                try:
                    import torch
                except ImportError:
                    emit({"root": None, "reason": "no GPU: torch is not importable in the rental"})
                    continue
                if not torch.cuda.is_available():
                    emit({"root": None, "reason": "no GPU: torch sees no CUDA device in the rental"})
                    continue
                results = gpu_blocks(seed, n, p, rounds, blocks)
                workers = torch.cuda.device_count()
            else:
                workers = max(1, usable["count"])
                tasks = [(seed, i, n, p, rounds) for i in range(blocks)]
                if workers > 1:
                    import multiprocessing
                    with multiprocessing.get_context("fork").Pool(workers) as pool:
                        results = pool.map(cpu_block, tasks, chunksize=1)
                else:
                    results = [cpu_block(t) for t in tasks]
            levels = merkle_levels(results)
            emit({"root": levels[-1][0].hex(), "blocks": blocks, "workers": workers})
        elif op == "open":
            emit({"openings": [{"index": i, "result": results[i].hex(), "path": path_of(levels, i)} for i in msg["indices"]]})
        elif op == "exit":
            break

main()
`;

/** sha256 of the program as uploaded (hex): what the container's python must report before it runs. */
export const PROBE_SHA256 = createHash('sha256').update(PROBE_PROGRAM, 'utf8').digest('hex');
