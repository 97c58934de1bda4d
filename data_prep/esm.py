"""Per-residue ESM2 embeddings: compute them once (for users who have the weights), look them up
per chain when featurising. Nothing is downloaded: weights come from a local file.

Embedding file (torch, loads with weights_only=True):
    {"format": "disco-esm-embeddings", "version": 1,
     "embeddings": {"<complex>:<chain>": float tensor (L, D)},   # L = residues with a C-alpha
     "sequences":  {"<complex>:<chain>": one-letter sequence of those residues}}
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from disco_core.errors import InputError
from disco_core.io import atomic_open

ESM_FILE_FORMAT = "disco-esm-embeddings"
# ESM2 checkpoints' attention heads by width (the one architecture number the weights do not reveal).
_ESM2_HEADS = {320: 20, 480: 20, 640: 20, 1280: 20, 2560: 40, 5120: 40}
_MAX_TOKENS = 1022  # ESM2 positional budget without BOS/EOS


def load_esm_embeddings(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "ESM embedding file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(str(path), f"not a readable ESM embedding file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != ESM_FILE_FORMAT:
        raise InputError(str(path), f"not a {ESM_FILE_FORMAT} file (make one with `disco prep esm`)")
    return data


def embeddings_for_receptor(embeddings: dict, keys: list[str], chain_ids: list[str],
                            chain_sequences: dict[str, str], item: str) -> torch.Tensor:
    """Stack the per-chain embeddings in the receptor's residue order.

    `keys` are the names to look chains up under, most specific first (complex name, protein stem).
    A missing chain, or a row count / sequence that differs from the structure's, is an InputError
    naming the chain."""
    table, sequences = embeddings["embeddings"], embeddings.get("sequences", {})
    chains = list(dict.fromkeys(chain_ids))
    blocks = []
    for chain in chains:
        key = next((f"{k}:{chain}" for k in keys if f"{k}:{chain}" in table), None)
        if key is None:
            raise InputError(item, f"ESM embeddings have no entry for chain {chain} "
                                   f"(looked for {', '.join(f'{k}:{chain}' for k in keys)})")
        block = table[key]
        expected = chain_sequences[chain]
        if block.shape[0] != len(expected):
            raise InputError(item, f"ESM embeddings for chain {chain} ({key}) have {block.shape[0]} rows but the "
                                   f"structure has {len(expected)} residues with a C-alpha in chain {chain}")
        stored = sequences.get(key)
        if stored is not None and stored != expected:
            first = next(i for i, (a, b) in enumerate(zip(stored, expected)) if a != b)
            raise InputError(item, f"ESM embeddings for chain {chain} ({key}) were computed for another sequence "
                                   f"(first difference at residue {first + 1}: {stored[first]} vs {expected[first]})")
        blocks.append(block.float())
    return torch.cat(blocks, dim=0)


def load_esm2(weights: str | Path):
    """An ESM2 model (fair-esm) and its alphabet from a local weights file, read with weights_only=True.

    Accepted: {"config": {num_layers, embed_dim, attention_heads[, token_dropout]}, "state_dict": ...}
    (what `save_esm2` writes), fair-esm's {"cfg": {"model": ...}, "model": ...} when it loads without
    pickled objects, or a bare ESM2 state dict (architecture inferred from tensor shapes)."""
    try:
        import esm
    except ImportError as exc:
        raise InputError("fair-esm", "the `fair-esm` package is needed for `disco prep esm` "
                                     "(pip install fair-esm)") from exc
    path = Path(weights)
    if not path.is_file():
        raise InputError(str(path), "ESM2 weights file not found (nothing is downloaded; give a local file)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(str(path), "cannot load ESM2 weights with weights_only=True (an official fair-esm "
                                    "checkpoint pickles its config: in a trusted session save "
                                    "{'config': {...}, 'state_dict': model.state_dict()} once)") from exc
    config: dict = {}
    if isinstance(data, dict) and "state_dict" in data:
        config, state = dict(data.get("config", {})), data["state_dict"]
    elif isinstance(data, dict) and "model" in data and "cfg" in data:
        cfg = data["cfg"]["model"]
        get = cfg.get if isinstance(cfg, dict) else lambda k, d=None: getattr(cfg, k, d)
        config = {"num_layers": get("encoder_layers"), "embed_dim": get("encoder_embed_dim"),
                  "attention_heads": get("encoder_attention_heads"), "token_dropout": get("token_dropout", True)}
        state = data["model"]
    elif isinstance(data, dict):
        state = data
    else:
        raise InputError(str(path), "ESM2 weights file holds no state dict")
    state = {re.sub(r"^(encoder\.sentence_encoder\.|encoder\.)", "", k): v for k, v in state.items()}
    if "embed_tokens.weight" not in state:
        raise InputError(str(path), "not ESM2 weights (no embed_tokens.weight)")
    embed_dim = config.get("embed_dim") or int(state["embed_tokens.weight"].shape[1])
    num_layers = config.get("num_layers") or 1 + max(int(m.group(1)) for k in state
                                                     if (m := re.match(r"layers\.(\d+)\.", k)))
    heads = config.get("attention_heads") or _ESM2_HEADS.get(embed_dim)
    if heads is None:
        raise InputError(str(path), f"cannot tell the attention heads of a {embed_dim}-wide ESM2; "
                                    f"save the weights with a config")
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=num_layers, embed_dim=embed_dim, attention_heads=heads,
                                alphabet=alphabet, token_dropout=bool(config.get("token_dropout", True)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("contact_head.regression")]
    if missing or unexpected:
        raise InputError(str(path), f"ESM2 weights do not fit the architecture (missing {missing[:3]}, "
                                    f"unexpected {unexpected[:3]})")
    return model.eval(), alphabet


def save_esm2(model, path: str | Path) -> None:
    """Write an ESM2 model in the weights_only-loadable form `load_esm2` reads."""
    payload = {"config": {"num_layers": model.num_layers, "embed_dim": model.embed_dim,
                          "attention_heads": model.attention_heads, "token_dropout": model.token_dropout},
               "state_dict": model.state_dict()}
    with atomic_open(path, "wb") as handle:
        torch.save(payload, handle)


@torch.no_grad()
def embed_sequence(model, alphabet, sequence: str) -> torch.Tensor:
    """(L, D) last-layer representations; long chains go through in windows of 1022 residues."""
    converter = alphabet.get_batch_converter()
    pieces = []
    for start in range(0, len(sequence), _MAX_TOKENS):
        chunk = sequence[start:start + _MAX_TOKENS]
        _, _, tokens = converter([("chain", chunk)])
        out = model(tokens, repr_layers=[model.num_layers])
        pieces.append(out["representations"][model.num_layers][0, 1:len(chunk) + 1])
    return torch.cat(pieces, dim=0).float()


def compute_esm_embeddings(entries: list[tuple[str, dict[str, str]]], model, alphabet,
                           progress=None) -> dict:
    """Embedding file contents for (complex name, {chain: sequence}) entries; identical chains are
    embedded once."""
    table, sequences, memo = {}, {}, {}
    for name, chains in entries:
        for chain, sequence in chains.items():
            if sequence not in memo:
                memo[sequence] = embed_sequence(model, alphabet, sequence)
            table[f"{name}:{chain}"] = memo[sequence].clone()
            sequences[f"{name}:{chain}"] = sequence
        if progress is not None:
            progress(name)
    return {"format": ESM_FILE_FORMAT, "version": 1, "embeddings": table, "sequences": sequences}


def write_esm_embeddings(contents: dict, path: str | Path) -> None:
    with atomic_open(path, "wb") as handle:
        torch.save(contents, handle)
