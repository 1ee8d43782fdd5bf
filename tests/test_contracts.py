"""Every registered pipeline's module code meets the contracts of components/models/contracts.py:
the request module `tfpipe predict` calls, and the readers the ExampleGens call."""

import importlib
import inspect
import types

import pytest
from conftest import REPO_ROOT

from components.models import contracts
from pipelines.registry import PIPELINES


def _broken_promises(module: types.ModuleType, protocol: type) -> list[str]:
    """What `module` lacks of `protocol`: a function missing or taking another number of arguments, a
    constant missing."""
    promised = {}
    for cls in reversed(protocol.__mro__):
        if cls in (object, contracts.Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        promised.update({name: value for name, value in vars(cls).items() if not name.startswith("_")})
        promised.update({name: None for name in getattr(cls, "__annotations__", {})})
    broken = []
    for name, member in promised.items():
        if not hasattr(module, name):
            broken.append(f"{module.__name__} has no {name}")
        elif inspect.isfunction(member):
            # Called with positional arguments: their number is the contract, not their names.
            wanted = list(inspect.signature(member).parameters)[1:]  # without self
            found = list(inspect.signature(getattr(module, name)).parameters)
            if len(found) != len(wanted):
                broken.append(f"{module.__name__}.{name} takes ({', '.join(found)}), not ({', '.join(wanted)})")
    return broken


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_request_module_meets_the_protocol_of_its_kind_of_prediction(pipeline):
    config = PIPELINES[pipeline]
    protocol = contracts.PROTOCOLS[config.prediction_kind]
    assert _broken_promises(importlib.import_module(config.request_module), protocol) == []


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "components" / "models").glob("*/ingest.py")), ids=str)
def test_every_reader_meets_a_reader_protocol(path):
    module = importlib.import_module(".".join(path.relative_to(REPO_ROOT).with_suffix("").parts))
    broken = {
        protocol.__name__: _broken_promises(module, protocol)
        for protocol in (contracts.FileReader, contracts.LineReader)
    }
    assert [] in broken.values(), broken


def test_a_module_missing_a_function_or_with_other_parameters_breaks_its_contract():
    module = types.ModuleType("half_done")
    module.to_examples = lambda inputs, config: []  # type: ignore[attr-defined]
    assert _broken_promises(module, contracts.RequestModule) == ["half_done has no describe"]
    module.describe = lambda outputs: ""  # type: ignore[attr-defined]
    assert _broken_promises(module, contracts.RequestModule) == [
        "half_done.describe takes (outputs), not (outputs, index)"
    ]
    module.describe = lambda outputs, index: ""  # type: ignore[attr-defined]
    assert _broken_promises(module, contracts.RequestModule) == []
    assert _broken_promises(module, contracts.SequenceRequestModule) == ["half_done has no complete"]
    assert _broken_promises(module, contracts.FileReader) == ["half_done has no read", "half_done has no CONTENT_KEY"]
