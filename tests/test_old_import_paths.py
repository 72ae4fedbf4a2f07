"""Names that moved keep their old import paths: the built-in datasets (now in the plugin
``genae_builtins``) and ``genae_studio.fast`` (now ``genae_studio.compiled_plans``)."""
import subprocess
import sys

import genae_builtins.celeba
import genae_builtins.digits
import genae_builtins.image_folder
import genae_builtins.mnist
import genae_builtins.svhn
import genae_builtins.toyfaces
import pytest

MOVED = [
    ("genae_studio.data.toyfaces", genae_builtins.toyfaces,
     ["load_toyfaces", "generate", "draw_face", "cache_path", "load_full", "ATTRIBUTE_KEYS",
      "BACKGROUNDS", "SKIN_TONES", "HAIR_COLOURS", "VERSION", "SIZE"]),
    ("genae_studio.data.digits", genae_builtins.digits, ["load_digits", "DEFAULT_SIZE"]),
    ("genae_studio.data.disk", genae_builtins.celeba, ["detect_celeba", "load_celeba"]),
    ("genae_studio.data.disk", genae_builtins.svhn, ["detect_svhn", "load_svhn", "SVHN_FILES"]),
    ("genae_studio.data.disk", genae_builtins.mnist,
     ["detect_mnist", "load_mnist", "MNIST_FILES", "IMAGES_MAGIC", "LABELS_MAGIC"]),
    ("genae_studio.data.disk", genae_builtins.image_folder, ["detect_folder", "load_folder"]),
    ("genae_studio.data.disk", genae_builtins.digits, ["DIGIT_NAMES"]),
]


@pytest.mark.parametrize("old,new,names", MOVED)
def test_moved_dataset_names_import_from_their_old_modules(old, new, names):
    for name in names:
        with pytest.warns(DeprecationWarning, match=f"{old}.{name} moved to {new.__name__}"):
            value = getattr(__import__(old, fromlist=[name]), name)
        assert value is getattr(new, name), name


def test_old_from_imports_still_work():
    with pytest.warns(DeprecationWarning):
        from genae_studio.data.disk import load_celeba, load_folder, load_mnist, load_svhn
        from genae_studio.data.toyfaces import load_toyfaces
    assert load_toyfaces is genae_builtins.toyfaces.load_toyfaces
    assert load_folder is genae_builtins.image_folder.load_folder
    assert (load_celeba, load_svhn, load_mnist) == (
        genae_builtins.celeba.load_celeba, genae_builtins.svhn.load_svhn,
        genae_builtins.mnist.load_mnist)
    from genae_studio.data import toyfaces  # the old module, as an attribute of the package

    with pytest.warns(DeprecationWarning):
        assert toyfaces.ATTRIBUTE_KEYS == genae_builtins.toyfaces.ATTRIBUTE_KEYS
    assert "load_toyfaces" in dir(toyfaces)


def test_unknown_names_of_the_old_modules_are_attribute_errors():
    from genae_studio.data import disk

    with pytest.raises(AttributeError, match="genae_studio.data.disk.*no_such_name"):
        disk.no_such_name  # noqa: B018
    assert callable(disk.walk_images)  # its generic helpers stay in the core


def test_the_core_data_modules_load_no_plugin_until_a_moved_name_is_used():
    code = ("import sys, warnings\n"
            "import genae_studio.data, genae_studio.data.disk, genae_studio.data.toyfaces\n"
            "assert 'genae_builtins' not in sys.modules, 'loaded on import'\n"
            "warnings.simplefilter('ignore')\n"
            "from genae_studio.data.disk import load_svhn\n"
            "assert 'genae_builtins.svhn' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_fast_is_the_compiled_plans_module():
    from genae_studio import compiled_plans, fast

    assert fast is compiled_plans
    import genae_studio.fast

    assert genae_studio.fast.cached_plan is compiled_plans.cached_plan
