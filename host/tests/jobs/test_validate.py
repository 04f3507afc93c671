"""Layered validation: processor, declaration (ports, counts, types, parameters, GIPPs), file system."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobs_support import NOISE_GIPP, DarkParams, Env

from viq_host.jobs.model import JobGipp, JobInput, JobOrder, JobOutput, JobParameter
from viq_host.jobs.reader import read_job_order
from viq_host.jobs.validate import ValidatedJob, plan, validate_job_order
from viq_host.plugins import Plugins
from viq_interfaces import GippInForce, GippRequirement
from viq_interfaces.errors import GippError, InvalidJobOrder
from viq_interfaces.exitcodes import ExitCode, exit_code_for

MAX = 1_048_576


def _validate(env: Env, plugins: Plugins, order: JobOrder, **kw: object) -> ValidatedJob:
    """Write, read back (so positions are real) and validate."""
    path = env.write(order)
    return validate_job_order(read_job_order(path, max_bytes=MAX), plugins, env.settings, **kw)  # type: ignore[arg-type]


def _fails(env: Env, plugins: Plugins, order: JobOrder, code: ExitCode, **kw: object) -> InvalidJobOrder:
    with pytest.raises(InvalidJobOrder) as info:
        _validate(env, plugins, order, **kw)
    err = info.value
    assert err.exit_code == code and exit_code_for(err) == code, str(err)
    assert err.source == str(env.orders / "order.xml")
    assert err.field, str(err)
    assert str(err).startswith(str(env.orders / "order.xml"))
    return err


def _line_of(env: Env, needle: str, occurrence: int = 1) -> int:
    lines = (env.orders / "order.xml").read_text().splitlines()
    hits = [i for i, t in enumerate(lines, start=1) if needle in t]
    return hits[occurrence - 1]


def test_valid_order_resolves_inputs_parameters_gipps_and_outputs(env: Env, plugins: Plugins) -> None:
    """A correct order yields resolved absolute inputs inside the root, typed parameters and the GIPP version."""
    v = _validate(env, plugins, env.order())
    assert v.processor.declaration.key == "calib-dark@01.00"
    assert [p.path for p in v.inputs["dark"]] == [env.data / "in" / "dark1.tif", env.data / "in" / "dark2.tif"]
    assert all(p.product_type == "VSC_L1DARK" for p in v.inputs["dark"])
    assert "reference" not in v.inputs
    assert isinstance(v.params, DarkParams)
    assert v.params.threshold == 2.5 and v.params.iterations == 7 and v.params.mode == "median"
    (gipp,) = v.gipps["GIP_NOISMO"]
    assert gipp.path == env.data / "gipp" / NOISE_GIPP and gipp.version == 7
    assert v.output_ports == ("candidate",)
    assert v.warnings == ()


def test_plan_names_what_would_run(env: Env, plugins: Plugins) -> None:
    """The plan printout lists processor, each input file, parameters with defaults marked, GIPPs and outputs."""
    text = plan(_validate(env, plugins, env.order()))
    assert "calib-dark 01.00" in text
    assert str(env.data / "in" / "dark2.tif") in text
    assert "threshold = 2.5" in text and 'mode = "median"  (default)' in text
    assert NOISE_GIPP in text and "(v7)" in text
    assert "candidate: GIP_DARKCU (XML) → out" in text


def test_unknown_processor(env: Env, plugins: Plugins) -> None:
    """An unregistered processor name ends with 129 naming Processor_Name."""
    err = _fails(env, plugins, env.order(processor="no-such-proc"), ExitCode.UNKNOWN_PROCESSOR)
    assert err.field == "Processor_Name" and "no-such-proc" in err.message


def test_unknown_version(env: Env, plugins: Plugins) -> None:
    """A registered name at an unknown version ends with 129 naming the versions known."""
    err = _fails(env, plugins, env.order(version="09.99"), ExitCode.UNKNOWN_PROCESSOR)
    assert err.field == "Processor_Version" and "01.00" in err.message


def test_wrong_task_name(env: Env, plugins: Plugins) -> None:
    """A Task_Name that is not the processor's task is refused."""
    err = _fails(env, plugins, env.order(task="other-task"), ExitCode.JOB_ORDER_ERROR)
    assert err.field == "Task_Name"


def test_unknown_port(env: Env, plugins: Plugins) -> None:
    """An Input_ID that is not a port of the processor is refused at the Input's line, listing the ports."""
    order = env.order()
    extra = JobInput(port="flat", file_type="VSC_L1DARK", file_names=("../in/dark3.tif",))
    err = _fails(env, plugins, order.model_copy(update={"inputs": (*order.inputs, extra)}), ExitCode.JOB_ORDER_ERROR)
    assert "'flat'" in err.message and "dark, reference" in err.message
    assert err.line == _line_of(env, "<Input>", 2)
    assert err.field == "/Job_Order/List_of_Tasks/Task/List_of_Inputs/Input[2]"


def test_missing_mandatory_port(env: Env, plugins: Plugins) -> None:
    """An order without the mandatory 'dark' port ends with 134 (missing mandatory input)."""
    err = _fails(env, plugins, env.order(inputs=()), ExitCode.MISSING_INPUT)
    assert "'dark'" in err.message and "dark" in (err.field or "")


def test_too_few_inputs(env: Env, plugins: Plugins) -> None:
    """One file for a port needing two is refused at the Input's line."""
    one = JobInput(port="dark", file_type="VSC_L1DARK", file_names=("../in/dark1.tif",))
    err = _fails(env, plugins, env.order(inputs=(one,)), ExitCode.MISSING_INPUT)
    assert "at least 2" in err.message and "got 1" in err.message
    assert err.line == _line_of(env, "<Input>")


def test_too_many_inputs(env: Env, plugins: Plugins) -> None:
    """Four files for a port taking at most three are refused at the Input's line."""
    names = tuple(f"../in/dark{k}.tif" for k in range(1, 5))
    err = _fails(env, plugins, env.order(inputs=(JobInput(port="dark", file_type="VSC_L1DARK", file_names=names),)),
                 ExitCode.JOB_ORDER_ERROR)
    assert "at most 3" in err.message and "got 4" in err.message
    assert err.line == _line_of(env, "<Input>")


def test_alternative_product_type_is_accepted(env: Env, plugins: Plugins) -> None:
    """The port's second product type (an alternative) is accepted."""
    inp = JobInput(port="dark", file_type="VSC_L0DARK", file_names=("../in/dark1.tif", "../in/dark2.tif"))
    v = _validate(env, plugins, env.order(inputs=(inp,)))
    assert {p.product_type for p in v.inputs["dark"]} == {"VSC_L0DARK"}


def test_wrong_product_type(env: Env, plugins: Plugins) -> None:
    """A File_Type the port does not accept is refused naming the accepted types and File_Type's path."""
    inp = JobInput(port="dark", file_type="VSC_L1VALD", file_names=("../in/dark1.tif", "../in/dark2.tif"))
    err = _fails(env, plugins, env.order(inputs=(inp,)), ExitCode.JOB_ORDER_ERROR)
    assert "VSC_L1VALD" in err.message and "VSC_L1DARK, VSC_L0DARK" in err.message
    assert err.field == "/Job_Order/List_of_Tasks/Task/List_of_Inputs/Input/File_Type"
    assert err.line == _line_of(env, "<Input>")


def test_unknown_output_port_and_wrong_output_type(env: Env, plugins: Plugins) -> None:
    """Outputs are checked against the declared output ports and their product type."""
    err = _fails(env, plugins, env.order(outputs=(JobOutput(port="nope", file_type="GIP_DARKCU"),)),
                 ExitCode.JOB_ORDER_ERROR)
    assert "'nope'" in err.message and err.line == _line_of(env, "<Output>")
    err = _fails(env, plugins, env.order(outputs=(JobOutput(port="candidate", file_type="GIP_NOISMO"),)),
                 ExitCode.JOB_ORDER_ERROR)
    assert "GIP_NOISMO" in err.message and err.field and err.field.endswith("/File_Type")


def test_output_dir_escaping_the_work_dir(env: Env, plugins: Plugins) -> None:
    """A File_Dir with '..' out of the work directory, or absolute, ends with 130."""
    for directory in ("../../elsewhere", "/tmp/out"):
        out = JobOutput(port="candidate", file_type="GIP_DARKCU", directory=directory)
        err = _fails(env, plugins, env.order(outputs=(out,)), ExitCode.FILE_SYSTEM_ERROR)
        assert directory in err.message and err.field and err.field.endswith("/File_Dir")


@pytest.mark.parametrize(
    ("name", "value", "expect"),
    [
        ("threshold", "12.5", "less than or equal to 10"),
        ("iterations", "0", "greater than or equal to 1"),
        ("iterations", "seven", "valid integer"),
        ("mode", "mode", "'mean' or 'median'"),
    ],
)
def test_parameter_out_of_range_or_wrong_type(
    env: Env, plugins: Plugins, name: str, value: str, expect: str
) -> None:
    """A parameter failing the pydantic model ends with 147 naming the parameter, its value and its line."""
    params = (JobParameter(name="threshold", value="2.5"), JobParameter(name=name, value=value))
    if name == "threshold":
        params = (JobParameter(name=name, value=value),)
    err = _fails(env, plugins, env.order(parameters=params), ExitCode.PARAMETER_ERROR)
    assert err.field == name
    assert f"{name}={value!r}" in err.message and expect in err.message
    occurrence = 1 if name == "threshold" else 2
    assert err.line == _line_of(env, "<Proc_Parameter>", occurrence)


def test_unknown_parameter(env: Env, plugins: Plugins) -> None:
    """A parameter the model does not have ends with 147 listing the known ones."""
    err = _fails(env, plugins, env.order(parameters=(JobParameter(name="gain", value="1"),)), ExitCode.PARAMETER_ERROR)
    assert err.field == "gain" and "threshold, iterations, mode, bands" in err.message
    assert err.line == _line_of(env, "<Proc_Parameter>")


def test_list_parameter_as_json(env: Env, plugins: Plugins) -> None:
    """A tuple-valued parameter is given as JSON text and converted by the model."""
    v = _validate(env, plugins, env.order(parameters=(JobParameter(name="bands", value='["B03", "B07"]'),)))
    assert v.params.bands == ("B03", "B07")  # type: ignore[attr-defined]


def test_missing_mandatory_gipp(env: Env, plugins: Plugins) -> None:
    """No GIPP_File of a mandatory type and no GIPP store: 135 naming the type."""
    err = _fails(env, plugins, env.order(gipps=()), ExitCode.GIPP_ERROR)
    assert "GIP_NOISMO" in err.message and "GIP_NOISMO" in (err.field or "")


def test_gipp_resolver_supplies_gipps_in_force(env: Env, plugins: Plugins) -> None:
    """With a resolver (the GIPP store), the GIPP in force is used; an empty answer is 135; GippError is 135."""
    seen: list[str] = []
    noise = GippInForce(gipp_type="GIP_NOISMO", version=3, path=env.data / "gipp" / NOISE_GIPP)

    def resolver(req: GippRequirement, order: JobOrder) -> tuple[GippInForce, ...]:
        seen.append(req.gipp_type)
        assert order.processor == "calib-dark"
        return (noise,)

    v = _validate(env, plugins, env.order(gipps=()), gipp_resolver=resolver)
    assert v.gipps["GIP_NOISMO"] == (noise,) and seen == ["GIP_NOISMO"]
    _fails(env, plugins, env.order(gipps=()), ExitCode.GIPP_ERROR, gipp_resolver=lambda req, order: ())

    def broken(req: GippRequirement, order: JobOrder) -> tuple[GippInForce, ...]:
        raise GippError("two OPER versions overlap")

    err = _fails(env, plugins, env.order(gipps=()), ExitCode.GIPP_ERROR, gipp_resolver=broken)
    assert "overlap" in err.message


def test_unused_gipp_is_a_warning(env: Env, plugins: Plugins) -> None:
    """A GIPP_File of a type the processor does not use is ignored with a warning naming its line."""
    order = env.order()
    extra = JobGipp(gipp_type="GIP_RELSEN", path="../gipp/x.EEF")
    v = _validate(env, plugins, order.model_copy(update={"gipps": (*order.gipps, extra)}))
    assert len(v.warnings) == 1 and "GIP_RELSEN" in v.warnings[0]
    assert f":{_line_of(env, '<GIPP_File>', 2)}:" in v.warnings[0]


def _inp(*names: str) -> JobInput:
    return JobInput(port="dark", file_type="VSC_L1DARK", file_names=names)


def test_dotdot_inside_the_roots_is_accepted(env: Env, plugins: Plugins) -> None:
    """'..' that stays inside the data root (orders/../in) is fine: only escapes are refused."""
    v = _validate(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", "./../in/../in/dark3.tif"),)))
    assert v.inputs["dark"][1].path == env.data / "in" / "dark3.tif"


def test_dotdot_escape(env: Env, plugins: Plugins) -> None:
    """A '..' path leaving the data roots ends with 130 naming the path, its line and File_Name."""
    (env.root / "secret.tif").write_bytes(b"x")
    err = _fails(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", "../../secret.tif"),)),
                 ExitCode.FILE_SYSTEM_ERROR)
    assert "'../../secret.tif'" in err.message and "'..'" in err.message and str(env.data) in err.message
    assert err.field == "/Job_Order/List_of_Tasks/Task/List_of_Inputs/Input/List_of_File_Names/File_Name[2]"
    assert err.line == _line_of(env, "<Input>")


def test_absolute_path_outside_the_roots(env: Env, plugins: Plugins) -> None:
    """An absolute path outside every data root ends with 130 (even though the file exists)."""
    err = _fails(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", "/etc/passwd"),)),
                 ExitCode.FILE_SYSTEM_ERROR)
    assert "'/etc/passwd'" in err.message and "outside the data roots" in err.message


def test_absolute_path_inside_the_roots_is_accepted(env: Env, plugins: Plugins) -> None:
    """An absolute path inside a data root is fine."""
    v = _validate(env, plugins, env.order(inputs=(_inp(str(env.data / "in" / "dark1.tif"), "../in/dark2.tif"),)))
    assert v.inputs["dark"][0].path == env.data / "in" / "dark1.tif"


def test_symlink_escape(env: Env, plugins: Plugins) -> None:
    """A link inside the root pointing outside it ends with 130 naming the real target."""
    outside = env.root / "outside"
    outside.mkdir()
    (outside / "dark.tif").write_bytes(b"x")
    (env.data / "in" / "link.tif").symlink_to(outside / "dark.tif")
    (env.data / "linkdir").symlink_to(outside, target_is_directory=True)
    for name in ("../in/link.tif", "../linkdir/dark.tif"):
        err = _fails(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", name),)), ExitCode.FILE_SYSTEM_ERROR)
        assert "symbolic link" in err.message and str(outside / "dark.tif") in err.message


def test_symlink_inside_the_roots_is_accepted(env: Env, plugins: Plugins) -> None:
    """A link whose target stays inside the root is followed."""
    (env.data / "in" / "alias.tif").symlink_to(env.data / "in" / "dark4.tif")
    v = _validate(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", "../in/alias.tif"),)))
    assert v.inputs["dark"][1].path == env.data / "in" / "dark4.tif"


def test_missing_file(env: Env, plugins: Plugins) -> None:
    """A named input that does not exist ends with 134 naming the file and its File_Name path."""
    err = _fails(env, plugins, env.order(inputs=(_inp("../in/dark1.tif", "../in/gone.tif"),)), ExitCode.MISSING_INPUT)
    assert "'../in/gone.tif' does not exist" in err.message
    assert err.field and err.field.endswith("File_Name[2]")


def test_missing_gipp_file(env: Env, plugins: Plugins) -> None:
    """An explicit GIPP_File that does not exist ends with 134 at the GIPP_File's line."""
    err = _fails(env, plugins, env.order(gipps=(JobGipp(gipp_type="GIP_NOISMO", path="../gipp/none.EEF"),)),
                 ExitCode.MISSING_INPUT)
    assert "none.EEF" in err.message and err.line == _line_of(env, "<GIPP_File>")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(env: Env, plugins: Plugins) -> None:
    """An input without read permission ends with 134."""
    path = env.data / "in" / "dark2.tif"
    path.chmod(0)
    try:
        err = _fails(env, plugins, env.order(), ExitCode.MISSING_INPUT)
        assert "not readable" in err.message
    finally:
        path.chmod(0o644)


def test_data_root_given_through_a_symlink(env: Env, plugins: Plugins, tmp_path: Path) -> None:
    """A data root configured through a symbolic link still admits the files below it."""
    alias = tmp_path / "alias"
    alias.symlink_to(env.data, target_is_directory=True)
    settings = env.settings.model_copy(update={"data_roots": [alias]})
    order = read_job_order(env.write(env.order()), max_bytes=MAX)
    v = validate_job_order(order, plugins, settings)
    assert v.inputs["dark"][0].path == env.data / "in" / "dark1.tif"
