"""Fixtures for the decoder, LM, rescoring and tuning tests: a text corpus, KenLM files, vocabularies,
synthetic CTC posteriors and tiny Hugging Face LMs, all built here from nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from decoder_helpers import CHAR_LABELS, make_corpus
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.synthetic import char_token_ids, synthetic_log_probs


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Two shared cores: torch's intra-op threads fight other processes and run 30x slower than one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return make_corpus()


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, corpus) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(corpus) + "\n", encoding="utf-8")
    return path


def _kenlm(tmp_path_factory, corpus_file, name: str, tool: str) -> Path:
    """A real trigram estimated by KenLM's lmplz (a binary through build_binary), its unigram list beside."""
    from werbench.runners.lm import build_lm, find_tool

    if find_tool(tool) is None:
        pytest.skip(f"KenLM {tool} is not installed (scripts/setup.sh builds it)")
    out = tmp_path_factory.mktemp("lm") / name
    build_lm([corpus_file], out, order=3)
    return out


@pytest.fixture(scope="session")
def lm_arpa(tmp_path_factory, corpus_file) -> Path:
    return _kenlm(tmp_path_factory, corpus_file, "lm.arpa", "lmplz")


@pytest.fixture(scope="session")
def lm_binary(tmp_path_factory, corpus_file) -> Path:
    return _kenlm(tmp_path_factory, corpus_file, "lm.bin", "build_binary")


@pytest.fixture(scope="session")
def char_vocab() -> Vocabulary:
    return Vocabulary(CHAR_LABELS, blank_id=len(CHAR_LABELS) - 1)


@pytest.fixture(scope="session")
def dev_set(corpus, char_vocab) -> list[tuple[str, np.ndarray]]:
    """Twenty held-out sentences of the grammar with confusable, noisy char posteriors."""
    rng = np.random.default_rng(7)
    sentences = make_corpus(20, seed=123)
    return [
        (
            s,
            synthetic_log_probs(
                char_token_ids(s, char_vocab), char_vocab.size, char_vocab.blank_id, rng, confusion=0.3
            ),
        )
        for s in sentences
    ]


@pytest.fixture(scope="session")
def bpe_tokenizer(corpus):
    """A SentencePiece-style (``▁`` word starts) BPE trained by ``tokenizers`` on the corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False
    )
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer


@pytest.fixture(scope="session")
def bpe_vocab(bpe_tokenizer) -> Vocabulary:
    vocab = bpe_tokenizer.get_vocab()
    labels = [piece for piece, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    return Vocabulary((*labels, "<blank>"), blank_id=len(labels), is_bpe=True)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, corpus) -> Path:
    """A 2-layer BertForMaskedLM with a WordPiece vocabulary trained by ``tokenizers``, saved as a folder."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_bert")
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(corpus, vocab_size=150, min_frequency=1, show_progress=False)
    wordpiece.save_model(str(folder))
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertForMaskedLM(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_causal(tmp_path_factory, corpus, bpe_tokenizer) -> Path:
    """A 2-layer GPT-2 with the corpus BPE, briefly trained on the corpus so it prefers grammatical text."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny_causal")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe_tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    model = GPT2LMHeadModel(config)
    ids = [[tokenizer.bos_token_id, *tokenizer(s)["input_ids"], tokenizer.eos_token_id] for s in corpus[:256]]
    width = max(map(len, ids))
    batch = torch.tensor([row + [tokenizer.eos_token_id] * (width - len(row)) for row in ids])
    labels = batch.clone()
    for n, row in enumerate(ids):
        labels[n, len(row) :] = -100
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for step in range(60):
        rows = slice((step * 64) % 256, (step * 64) % 256 + 64)
        loss = model(input_ids=batch[rows], labels=labels[rows]).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval().save_pretrained(folder)
    return folder
