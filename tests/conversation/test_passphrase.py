"""The receipt passphrase: its word lists, its strength, and what typing it loosely forgives."""

from __future__ import annotations

import math

import pytest

from tipline.conversation.passphrase import (
    LANGUAGES,
    WORDS,
    passphrase_generate,
    passphrase_normalise,
    wordlist,
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_list_has_7776_words_distinct_once_normalised(language):
    words = wordlist(language)
    normalised = {passphrase_normalise(word) for word in words}
    assert len(words) >= 7776
    assert len(normalised) == len(words), "two words normalise to the same letters"
    assert WORDS * math.log2(len(words)) >= 90


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_passphrase_is_seven_words_of_the_page_language(language):
    words = passphrase_generate(language=language).split(" ")
    assert len(words) == 7
    assert set(words) <= set(wordlist(language))


def test_case_accents_spaces_hyphens_and_line_breaks_do_not_matter():
    assert passphrase_normalise("  CAMIÓN-niño\n\tárbol  ") == passphrase_normalise(
        "camion nino arbol"
    )
    assert passphrase_normalise("Camion\r\nNiño Árbol") == "camionninoarbol"


def test_hostile_input_normalises_without_error():
    assert passphrase_normalise("\x00\ufffd\U0001f600") == ""
    assert len(passphrase_normalise("a" * 10_000_000)) <= 512
