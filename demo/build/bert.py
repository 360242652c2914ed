"""Train the demo's tiny BERT masked LM (about 1 M parameters, WordPiece) on the domain text, on CPU.

It is the neural rescorer of the ``rescore`` decoder (pseudo-log-likelihood of each n-best hypothesis). The
text is the business generator's training split plus the general training sentences, so the model scores
both domains; dev and test sentences are never seen. Run ``python -m werbench.demo.build.bert``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werbench.demo.build.corpus import business_split, general_split
from werbench.demo.build.paths import BERT_DIR

SEED = 4321
VOCAB_SIZE = 3000
MAX_TOKENS = 48


def train_tokenizer(sentences: Sequence[str], out: Path) -> Any:
    """WordPiece vocabulary from the corpus, saved as a standard ``BertTokenizerFast`` folder."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(sentences, vocab_size=VOCAB_SIZE, min_frequency=2, show_progress=False)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, do_lower_case=True)
    tokenizer.model_max_length = MAX_TOKENS
    tokenizer.save_pretrained(str(out))
    return tokenizer


def bert_config(vocab_size: int) -> Any:
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=192,
        num_hidden_layers=3,
        num_attention_heads=3,
        intermediate_size=512,
        max_position_embeddings=MAX_TOKENS,
        type_vocab_size=1,
        architectures=["BertForMaskedLM"],
    )


def mlm_loss(model: Any, collator: Any, batches: list[list[dict[str, Any]]]) -> float:
    """Mean masked-token loss over fixed dev batches (the collator's masking is seeded by the caller)."""
    import torch

    model.eval()
    losses = []
    with torch.no_grad():
        for batch in batches:
            losses.append(float(model(**collator(batch)).loss))
    model.train()
    return sum(losses) / len(losses)


def train(
    out: Path,
    sentences: Sequence[str],
    dev_sentences: Sequence[str],
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
) -> dict[str, Any]:
    """Tokenizer + MLM training; saves a Hugging Face folder and returns the dev loss before and after."""
    import torch
    from transformers import BertForMaskedLM, DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    random.seed(SEED)
    torch.manual_seed(SEED)
    tokenizer = train_tokenizer(sentences, out)
    model = BertForMaskedLM(bert_config(len(tokenizer)))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    encoded = [tokenizer(s, truncation=True, max_length=MAX_TOKENS) for s in sentences]
    dev = [tokenizer(s, truncation=True, max_length=MAX_TOKENS) for s in dev_sentences]
    dev_batches = [dev[i : i + batch_size] for i in range(0, len(dev), batch_size)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, steps // 20, steps)
    torch.manual_seed(SEED)
    dev_before = mlm_loss(model, collator, dev_batches)
    started = time.time()
    model.train()
    for step in range(1, steps + 1):
        loss = model(**collator(random.sample(encoded, min(batch_size, len(encoded))))).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 50 == 0:
            print(
                json.dumps(
                    {"step": step, "loss": round(float(loss), 3), "seconds": round(time.time() - started)}
                ),
                flush=True,
            )
    torch.manual_seed(SEED)
    dev_after = mlm_loss(model, collator, dev_batches)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    params = sum(p.numel() for p in model.parameters())
    return {
        "params": params,
        "steps": steps,
        "train_seconds": round(time.time() - started, 1),
        "dev_mlm_loss_before": round(dev_before, 3),
        "dev_mlm_loss_after": round(dev_after, 3),
        "dev_mlm_perplexity": round(math.exp(dev_after), 2),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=BERT_DIR)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy CPU)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    general, business = general_split(), business_split()
    summary = train(args.out, business.train + general.train, business.dev + general.dev, steps=args.steps)
    (args.out / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
