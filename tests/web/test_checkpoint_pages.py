"""The ledger's checkpoint where the public reads it: the 公示 page, /audit/key and the API."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from audit.checkpoint import open_checkpoint, sign_ledger
from audit.note import parse_verifier
from tests.web.conftest import settings_for
from web.app import create_app
from web.config import ConfigError
from web.domain_text import localized
from web.extensions import db
from web.signing import signing_key
from workflows.errors import Conflict


def test_the_public_page_and_the_api_publish_the_latest_checkpoint_and_the_key(app: Flask) -> None:
    reader = app.test_client()
    key = signing_key(app.config["KAOHE_SETTINGS"])  # the test instance's, made in its folder
    page = reader.get("/public").get_data(as_text=True)
    assert "账本检查点" in page and "账本尚未签署检查点。" in page and key.verifier.text in page
    keys = reader.get("/audit/key")
    assert keys.mimetype == "text/plain" and keys.get_data(as_text=True) == key.verifier.text + "\n"
    assert reader.get("/api/v1/audit/checkpoint").get_json() == {
        "note": None, "tree_size": None, "signed_at": None, "verifier_keys": [key.verifier.text]}

    with Session(db.engine(app)) as s, s.begin():
        note = sign_ledger(s, key, reason="demand", actor="auditor").note
    page = reader.get("/public").get_data(as_text=True)
    assert f'<pre class="checkpoint">{html.escape(note)}</pre>' in page
    assert "审计账本的签名检查点：共" in page and "账本尚未签署检查点" not in page
    published = reader.get("/api/v1/audit/checkpoint").get_json()
    assert published["note"] == note
    trusted = [parse_verifier(text) for text in published["verifier_keys"]]
    assert open_checkpoint(published["note"], trusted).head.size == published["tree_size"]


def test_the_app_refuses_to_start_in_production_without_its_signing_key(module_demo_url: str,
                                                                      tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="KAOHE_SIGNING_KEY is required in production"):
        create_app(settings_for(module_demo_url, tmp_path, env="production"))
    bad = tmp_path / "bad.key"
    bad.write_text("PRIVATE+KEY+x\n")
    with pytest.raises(ConfigError, match=f"the ledger signing key {bad} cannot be used: a signer key must"):
        create_app(settings_for(module_demo_url, tmp_path, env="production", signing_key_path=bad))


def test_a_publication_refused_for_a_rewritten_or_cut_ledger_reads_in_chinese(shared_app: Flask) -> None:
    at = "2026-12-07 21:07 UTC"
    cut = Conflict(f"run 2: publish refused, the ledger cannot be checkpointed: checkpoint 1 "
                   f"(signed {at}) covers 14 events but the ledger has only 11: events 12–14 were "
                   "deleted from its end")
    rewritten = Conflict(f"run 2: seal refused, the ledger cannot be checkpointed: checkpoint 3 "
                         f"(signed {at}): the ledger's first 14 events do not hash to its root 2FvW=: "
                         "the history it covers was rewritten")
    with shared_app.test_request_context("/"):
        assert localized(cut) == (
            "运算 2 不能公示：检查点 1（签于 2026-12-07 21:07 UTC）覆盖 14 条事件，账本现只有 11 条"
            "——末尾的事件被删除了。请先运行 kaohe audit verify 查明原因。")
        assert localized(rewritten) == (
            "运算 2 不能定案：账本前 14 条事件与检查点 3（签于 2026-12-07 21:07 UTC）不符"
            "——它所覆盖的历史被改写了。请先运行 kaohe audit verify 查明原因。")
