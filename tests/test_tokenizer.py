"The bundled GPT-2 tokenizer: exact ids, lossless on any text, the same for every GPT-2-family name."
from hypothesis import given, settings, strategies as st
from gpt_ft.core import GPT2_FAMILY, load_tokenizer

tok = load_tokenizer('gpt2')

def test_known_ids():
    assert tok("Hello world").input_ids == [15496, 995]
    assert tok(" the").input_ids == [262] and tok.eos_token_id == 50256 and len(tok) == 50257

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_is_lossless(s):
    assert tok.decode(tok(s).input_ids) == s

def test_every_family_name_is_offline():
    vocab = tok.get_vocab()
    for name in sorted(GPT2_FAMILY): assert load_tokenizer(name).get_vocab() == vocab, name

# Long documents are tokenized in pieces cut before line breaks: the ids must be those of the whole text
_lines = st.lists(st.sampled_from(list('ab Z1.,\'’é😀\t\r\u00a0\u2028') + ['\n', '\n\n', ' \n', "'s", "'LL", '<|endoftext|>']),
                  max_size=30).map(''.join)

@settings(max_examples=300, deadline=None)
@given(st.lists(_lines, max_size=12), st.integers(1, 30), st.booleans())
def test_pieces_keep_the_ids(lines, size, fast):
    from gpt_ft.data import _pieces, _tokenize_batch
    text = '\n'.join(lines)
    assert ''.join(_pieces(text, size)) == text
    got = _tokenize_batch({'text': [text]}, tok, [tok.eos_token_id], cut=True, fast=fast, size=size)['input_ids'][0]
    assert got.tolist() == tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id]

@settings(max_examples=500, deadline=None)
@given(st.text())
def test_tiktoken_gives_gpt2_ids(s):
    from gpt_ft.data import _tiktoken_gpt2
    assert _tiktoken_gpt2().encode(s, allowed_special='all') == tok(s, add_special_tokens=False).input_ids

def test_only_gpt2_style_tokenizers_are_cut(tmp_path):
    from transformers import AutoTokenizer
    from gpt_ft.data import _is_gpt2, _spec, _splits_like_gpt2
    assert _splits_like_gpt2(_spec(tok)[1]) and _is_gpt2(_spec(tok)[1])
    tok.save_pretrained(tmp_path)
    spaced = AutoTokenizer.from_pretrained(tmp_path, add_prefix_space=True)  # a leading space changes every piece
    assert not _splits_like_gpt2(_spec(spaced)[1]) and not _is_gpt2(_spec(spaced)[1])
    for name in ('bundled', 'distilgpt2', str(tmp_path)): assert _is_gpt2(_spec(load_tokenizer(name))[1]), name

def test_tiktoken_agrees_on_every_token():
    "Each vocabulary entry as a text of its own: tiktoken (whole-word lookup first) against the tokenizers library."
    from gpt_ft.data import _tiktoken_gpt2
    enc, texts = _tiktoken_gpt2(), [tok.decode([i]) for i in range(len(tok))]
    assert enc.encode_batch(texts, allowed_special='all') == tok(texts, add_special_tokens=False).input_ids
