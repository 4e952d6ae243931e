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
