#!/usr/bin/env python3
"""Writes a container image as a docker-archive tar (`docker save` format) that
`ctr images import` accepts, without a container engine or a registry.

Two ways to describe the image:

  mkimage.py REF OUT.tar --layer ROOTFS.tar [--layer MORE.tar ...] [--entrypoint JSON] [--cmd JSON]
             [--user U] [--env K=V ...]
      layers given as tars (or directories with --dir), config from the flags.

  mkimage.py REF OUT.tar --containerfile Containerfile --target STAGE --base ROOTFS.tar
             --stage NAME=DIR [...]
      one stage of a Containerfile: its base (the stage's FROM) is ROOTFS.tar, its COPY
      --from=NAME sources are read below DIR, and LABEL, ENV, USER, EXPOSE, WORKDIR, ENTRYPOINT
      and CMD are taken from the file. Any other instruction (RUN, ADD, a COPY from the build
      context) is refused: the stage must be buildable from prebuilt files alone. This keeps
      the image's contract (user, entrypoint, ports, labels) in one place, the Containerfile.

Layers are normalised (owner root unless the stage says otherwise, fixed mtimes), so the same
inputs give the same image digest.
"""
import argparse
import hashlib
import io
import json
import os
import re
import shlex
import sys
import tarfile

MTIME = 0


def fail(msg):
    print(f"mkimage: {msg}", file=sys.stderr)
    sys.exit(2)


def normalise(ti, uid=0, gid=0):
    ti.uid, ti.gid, ti.uname, ti.gname = uid, gid, "", ""
    ti.mtime = MTIME
    return ti


def dir_layer(path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(path)):
            t.add(os.path.join(path, name), arcname=name, filter=normalise)
    return buf.getvalue()


def files_layer(entries, owner):
    """entries: [(src_path, dest_path_in_image)]; parent directories are created."""
    buf = io.BytesIO()
    uid, gid = owner
    seen = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for src, dest in entries:
            parts = dest.strip("/").split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in seen:
                    seen.add(d)
                    ti = tarfile.TarInfo(d)
                    ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                    t.addfile(normalise(ti))
            t.add(src, arcname=dest.strip("/"), filter=lambda ti: normalise(ti, uid, gid))
    return buf.getvalue()


def parse_containerfile(path, target):
    """Returns (args, instructions of the target stage) with line continuations joined."""
    with open(path) as f:
        raw = f.read()
    lines, cur = [], ""
    for line in raw.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    args, stage, found = {}, None, []
    for line in lines:
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and stage is None:
            k, _, v = rest.partition("=")
            args[k.strip()] = v.strip()
        elif op == "FROM":
            m = re.match(r"(\S+)\s+AS\s+(\S+)", rest, re.I)
            stage = m.group(2) if m else None
            if stage == target:
                found.append(("FROM", m.group(1)))
        elif stage == target:
            found.append((op, rest.strip()))
    if not found:
        fail(f"{path}: no stage named {target!r}")
    return args, found


def stage_config(instrs, stages, path, target):
    cfg = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           "Labels": {}, "ExposedPorts": {}, "User": "", "WorkingDir": "/",
           "Entrypoint": None, "Cmd": None}
    copies = []
    for op, rest in instrs:
        if op == "FROM":
            continue
        if op == "LABEL":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                cfg["Labels"][k] = v
        elif op == "ENV":
            for tok in shlex.split(rest):
                k, _, v = tok.partition("=")
                cfg["Env"] = [e for e in cfg["Env"] if not e.startswith(k + "=")] + [f"{k}={v}"]
        elif op == "USER":
            cfg["User"] = rest
        elif op == "WORKDIR":
            cfg["WorkingDir"] = rest
        elif op == "EXPOSE":
            for p in rest.split():
                cfg["ExposedPorts"][p if "/" in p else p + "/tcp"] = {}
        elif op in ("ENTRYPOINT", "CMD"):
            cfg["Entrypoint" if op == "ENTRYPOINT" else "Cmd"] = json.loads(rest)
        elif op == "COPY":
            toks = shlex.split(rest)
            flags = [t for t in toks if t.startswith("--")]
            paths = [t for t in toks if not t.startswith("--")]
            frm = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
            if not frm:
                fail(f"{path}: stage {target}: COPY from the build context is not supported here")
            if frm[0] not in stages:
                fail(f"{path}: stage {target}: COPY --from={frm[0]}: pass --stage {frm[0]}=DIR")
            *srcs, dest = paths
            for s in srcs:
                src = os.path.join(stages[frm[0]], s.lstrip("/"))
                if not os.path.exists(src):
                    fail(f"{src} (for COPY --from={frm[0]} {s}) does not exist")
                d = dest.rstrip("/") + "/" + os.path.basename(s) if dest.endswith("/") else dest
                copies.append((src, d))
        else:
            fail(f"{path}: stage {target}: {op} cannot be run without a container engine; "
                 f"make the stage take prebuilt files")
    return cfg, copies


def write_archive(ref, out, layers, config):
    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    image = {
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": "vigil scripts/lib/mkimage.py"} for _ in layers],
    }
    cfg = json.dumps(image, sort_keys=True).encode()
    cfg_name = hashlib.sha256(cfg).hexdigest() + ".json"
    layer_names = [d[7:] + "/layer.tar" for d in diff_ids]
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": [ref], "Layers": layer_names}]).encode()

    def add(t, name, data):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o644
        t.addfile(ti, io.BytesIO(data))

    tmp = out + ".tmp"
    with tarfile.open(tmp, "w") as t:
        add(t, cfg_name, cfg)
        for name, data in zip(layer_names, layers):
            add(t, name, data)
        add(t, "manifest.json", manifest)
    os.replace(tmp, out)
    print(f"{ref} config sha256:{cfg_name[:-5]}")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref")
    ap.add_argument("out")
    ap.add_argument("--layer", action="append", default=[], help="a layer as a tar file")
    ap.add_argument("--dir", action="append", default=[], help="a layer from a directory")
    ap.add_argument("--add", action="append", default=[], metavar="SRC:DEST",
                    help="a file added in a layer of its own")
    ap.add_argument("--entrypoint", default="null")
    ap.add_argument("--cmd", default="null")
    ap.add_argument("--user", default="")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--containerfile")
    ap.add_argument("--target")
    ap.add_argument("--base", help="the target stage's FROM, as a rootfs tar")
    ap.add_argument("--stage", action="append", default=[], metavar="NAME=DIR")
    a = ap.parse_args()

    if a.containerfile:
        if not (a.target and a.base):
            fail("--containerfile needs --target and --base")
        stages = dict(s.split("=", 1) for s in a.stage)
        _, instrs = parse_containerfile(a.containerfile, a.target)
        cfg, copies = stage_config(instrs, stages, a.containerfile, a.target)
        layers = [read(a.base), files_layer(copies, (0, 0))]
    else:
        layers = [read(p) for p in a.layer] + [dir_layer(d) for d in a.dir]
        extra = [tuple(x.split(":", 1)) for x in a.add]
        if extra:
            layers.append(files_layer(extra, (0, 0)))
        if not layers:
            fail("no layers: give --layer, --dir or --add")
        cfg = {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Entrypoint": json.loads(a.entrypoint), "Cmd": json.loads(a.cmd),
               "User": a.user, "WorkingDir": "/"}
    write_archive(a.ref, a.out, layers, cfg)


if __name__ == "__main__":
    main()
