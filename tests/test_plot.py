import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from seqlab import plot  # noqa: E402
from seqlab.train import History  # noqa: E402


def render_with_chinese(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="訓練損失")
    ax.set_xlabel("訓練輪數（epoch）")
    ax.set_title("詞向量的二維投影：北京、東京、貓、狗")
    ax.legend()
    fig.savefig(tmp_path / "zh.png")
    plt.close(fig)


def missing_glyph_warnings(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_with_chinese(tmp_path)
    return [str(w.message) for w in caught if "missing from" in str(w.message).lower() or "glyph" in str(w.message).lower()]


def test_default_font_lacks_chinese_so_the_check_can_fail(tmp_path):
    with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"]}):
        assert missing_glyph_warnings(tmp_path), "DejaVu Sans should miss Chinese glyphs"


def test_chinese_labels_render_without_missing_glyphs(tmp_path):
    name = plot.use_chinese_font()
    assert "CJK" in name
    assert plot.chinese_font_path().is_file()
    assert missing_glyph_warnings(tmp_path) == []


def test_plotting_functions_draw_without_missing_glyphs(tmp_path):
    h = History(epoch=[1, 2], train_loss=[2.0, 1.0], seconds=[1, 1], throughput=[1, 1],
                metrics={"準確率": [0.5, 0.7]}, step_loss=[3.0, 2.0, 1.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figs = [plot.plot_history(h), plot.plot_step_loss(h, smooth=2),
                plot.plot_embedding_map(torch.randn(4, 5), ["北京", "東京", "貓", "狗"], ["城市", "城市", "動物", "動物"]),
                plot.heatmap(torch.eye(2), ["狗", "貓"], ["狗", "貓"], title="內積", annotate=True)]
        for i, fig in enumerate(figs):
            fig.savefig(tmp_path / f"{i}.png")
            plt.close(fig)


def test_plot_bad_input():
    with pytest.raises(ValueError, match="does not match"):
        plot.heatmap(torch.eye(2), ["a"], ["a", "b"])
    with pytest.raises(ValueError, match="words"):
        plot.plot_embedding_map(torch.randn(3, 4), ["a"])
    with pytest.raises(ValueError, match="N >= 2"):
        plot.project_2d(torch.randn(1, 4))
