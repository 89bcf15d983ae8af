import json

import pytest
import torch

from ambient.codec import vocab_size
from ambient.checkpoint import DEFAULT_MODEL_DIR, load_model, save_model_dir
from ambient.errors import AmbientError
from ambient.model import MusicTransformer
from tests.conftest import tiny_config

VOCAB = vocab_size()


def test_save_then_load_gives_the_same_logits(tiny_model_dir):
    model, card = load_model(tiny_model_dir)
    torch.manual_seed(0)
    original = MusicTransformer(tiny_config()).eval()
    idx = torch.randint(3, VOCAB, (1, 20))
    assert torch.equal(model(idx)[0], original(idx)[0])
    assert (card.codec.name, card.codec.version) == ("performance", 1) and card.model == model.config
    assert card.path == str(tiny_model_dir) and "model" not in card.info


def test_damaged_weights_are_named(tiny_model_dir):
    weights = tiny_model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(AmbientError, match=r"model\.safetensors: damaged weights file"):
        load_model(tiny_model_dir)


def test_weights_of_another_shape_are_named(tiny_model_dir, tmp_path):
    other = save_model_dir(tmp_path / "other", MusicTransformer(tiny_config(d_model=48)))
    (tiny_model_dir / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())
    with pytest.raises(AmbientError, match="does not match config.json"):
        load_model(tiny_model_dir)


def test_missing_and_broken_configs_are_named(tiny_model_dir, tmp_path):
    with pytest.raises(AmbientError, match="no such model directory"):
        load_model(tmp_path / "nowhere")
    (tiny_model_dir / "config.json").write_text("{not json")
    with pytest.raises(AmbientError, match="config.json: not a valid model config"):
        load_model(tiny_model_dir)


def test_another_codec_version_is_refused(tiny_model_dir):
    path = tiny_model_dir / "config.json"
    config = json.loads(path.read_text())
    config["codec"]["version"] = 99
    path.write_text(json.dumps(config))
    with pytest.raises(AmbientError, match="codec performance v99"):
        load_model(tiny_model_dir)


def test_saving_replaces_a_model_directory_whole(tiny_model_dir):
    save_model_dir(tiny_model_dir, MusicTransformer(tiny_config(n_layer=1)), note="second")
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["note"] == "second" and config["model"]["n_layer"] == 1
    assert sorted(p.name for p in tiny_model_dir.parent.iterdir()) == ["model"]


def test_the_bundled_model_loads_and_records_its_training():
    model, card = load_model()
    assert DEFAULT_MODEL_DIR.joinpath("model.safetensors").stat().st_size <= 30 * 2**20
    assert card.info["metrics"]["validation_loss_nats_per_token"] < 3.0 and card.path == "bundled"
    assert card.info["command"].startswith("ambient train")
    assert model.config.positions == "relative"
