"""Issue 22: a plugin's bug in a studio worker is shown as one line naming the plugin and
its model, with the --check command, as on the command line."""
import pytest


def test_a_plugin_models_error_names_the_plugin_in_the_studio(qtbot, window, tmp_path):
    import torch
    from test_plugin_errors import SEQUENTIAL_PLUGIN

    from genae_studio.plugins import load_plugins

    plugin = tmp_path / "halfplugin.py"
    plugin.write_text(SEQUENTIAL_PLUGIN)
    spec = load_plugins([str(plugin)], autoload=False).model("halfenc")
    model = spec.build({**spec.defaults, "image_size": 32, "channels": 1})
    with pytest.raises(RuntimeError) as caught:
        model.decode(model.encode(torch.rand(2, 1, 32, 32)))
    window.report_error("Chains", caught.value)
    shown = window.statusBar().currentMessage()
    assert shown.startswith("Chains failed: plugin halfplugin, model 'halfenc': RuntimeError: ")
    assert f"genae-studio --plugin {plugin} plugins --check halfenc" in shown
    assert "plugin halfplugin, model 'halfenc'" in window.log_view.toPlainText()


def test_the_tools_own_bug_keeps_its_type_in_the_studio(qtbot, window):
    window.report_error("Chains", RuntimeError("the tool's own bug"))
    assert window.statusBar().currentMessage() == "Chains failed: RuntimeError: the tool's own bug"
