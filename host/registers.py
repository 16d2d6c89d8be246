"""The AXI4-Lite register maps of the engine IP and the generator IP (docs/spec.md section 12).

One table per IP, from which everything else is made: the register block (hw/axi_lite.py), the IP-XACT memory map
(hw/ip.py), the spec's tables and the host driver's offsets (host/driver.py). Registers are 32 bits wide at word
addresses in a 4 KiB block; a field's `access` is

- `rw`: read and written by the host; the hardware reads it;
- `ro`: read only, set by the hardware (writes are ignored);
- `w1c`: set by the hardware, kept until the host writes a 1 to it (a sticky flag);
- `w1p`: writing a 1 makes a one-cycle pulse (a command); reads as 0;
- `const`: read only, the build's constant (its `reset` value).

Addresses no register uses read as 0 and ignore writes; every response is OKAY.
"""
import collections

Field = collections.namedtuple("Field", "name bit width access reset description")
"""One field: its `name` (unique in its map), lowest `bit`, `width`, `access`, `reset` value and what it means."""
Register = collections.namedtuple("Register", "name address fields description")

BLOCK_BYTES = 4096
"""The address block's size: the smallest an AXI interconnect maps."""
ADDRESS_BITS = 12
ACCESS = ("rw", "ro", "w1c", "w1p", "const")
ENGINE_ID, GENERATOR_ID = 0x50455A45, 0x50455A47
"""ASCII 'PEZE' and 'PEZG': what the ID register reads, so a driver knows it talks to the right IP."""
FORMAT_CODES = {"fp32": 0, "bf16": 1}
ONE = 0x3F800000
"""1.0 in fp32."""
MODES = {"perturb-plus": 0, "perturb-minus": 1, "update": 2}


def _identity(value):
    return [Register("ID", 0x00, [Field("id", 0, 32, "const", value, "the IP's identity")], "identity")]


def _info(length_bits, hop_bits, lanes, fmt=None):
    fields = [Field("lanes", 0, 8, "const", lanes, "values per beat")]
    if fmt is not None:
        fields.append(Field("format", 8, 1, "const", FORMAT_CODES[fmt], "weight format: 0 fp32, 1 bf16"))
    fields += [Field("length_bits", 16, 6, "const", length_bits, "width of LENGTH"),
               Field("hop_bits", 24, 6, "const", hop_bits, "width of HOP (0: the generator takes no hop)")]
    return Register("INFO", 0x04, fields, "the build's constants")


def _length_and_hop(address, length_bits, hop_bits):
    registers = [Register("LENGTH", address, [Field("length", 0, length_bits, "rw", 0,
                                                    "words per perturbation (docs/spec.md section 7)")],
                          "words per perturbation; a write restarts the current perturbation with it (a replay)")]
    if hop_bits:
        registers.append(Register("HOP", address + 4, [Field("hop", 0, hop_bits, "rw", 0,
                                                             "words skipped after each perturbation (section 7)")],
                                  "the generator's hop"))
    return registers


def engine_registers(lanes=1, fmt="fp32", length_bits=32, hop_bits=32):
    """The engine IP's registers, for its lanes, weight format and the widths of its length and hop (0: no HOP);
    the defaults give every register, at the offsets every build shares."""
    return [
        *_identity(ENGINE_ID),
        _info(length_bits, hop_bits, lanes, fmt),
        Register("MODE", 0x08, [Field("mode", 0, 2, "rw", 0, "0 perturb +, 1 perturb -, 2 update")],
                 "the next pass's mode; constant during a pass"),
        Register("E", 0x0C, [Field("e", 0, 6, "rw", 0, "eps = 2^-e")], "the perturbation size"),
        Register("C", 0x10, [Field("c", 0, 32, "rw", 0, "fp32 bits of c = lr g")], "the update's c"),
        Register("D", 0x14, [Field("d", 0, 32, "rw", ONE, "fp32 bits of d = 1 - lr wd")], "the update's d"),
        *_length_and_hop(0x18, length_bits, hop_bits),
        Register("STATUS", 0x20, [
            Field("busy", 0, 1, "ro", 0, "the generator is moving on or reloading"),
            Field("length_error", 1, 1, "w1c", 0,
                  "a weight beat's tlast disagreed with the pass's length (early, or missing on the last beat)"),
        ], "state and sticky errors"),
        Register("PASSES", 0x24, [Field("passes", 0, 32, "ro", 0, "passes whose last output beat has left")],
                 "a counter, wrapping"),
        Register("ERRORS", 0x28, [Field("errors", 0, 32, "ro", 0, "weight beats whose tlast was wrong")],
                 "a counter, wrapping"),
    ]


def generator_registers(lanes=1, length_bits=32, hop_bits=32):
    """The generator IP's registers (its `next` and `replay` ports stay, for logic beside it; the commands here
    act on the same generator)."""
    return [
        *_identity(GENERATOR_ID),
        _info(length_bits, hop_bits, lanes),
        Register("COMMAND", 0x08, [Field("next", 0, 1, "w1p", 0, "move to the next perturbation"),
                                   Field("replay", 1, 1, "w1p", 0, "replay the perturbation")],
                 "commands, as the next and replay ports"),
        *_length_and_hop(0x0C, length_bits, hop_bits),
        Register("STATUS", 0x14, [Field("done", 0, 1, "ro", 0, "the perturbation's last word has left"),
                                  Field("busy", 1, 1, "ro", 0, "moving on or reloading")], "state"),
        Register("PACKETS", 0x18, [Field("packets", 0, 32, "ro", 0, "perturbations sent (tlast beats taken)")],
                 "a counter, wrapping"),
    ]


def offsets(registers):
    """{register name: byte address}."""
    return {register.name: register.address for register in registers}


def _register(registers, name):
    return next(register for register in registers if register.name == name)


def fields(registers, name, value):
    """{field: its value} of the register `name` read as `value`."""
    return {field.name: (value >> field.bit) & ((1 << field.width) - 1) for field in _register(registers, name).fields}


def mask(registers, name, field_name):
    """The bits of field `field_name` in the register `name` (a one-bit field's mask is the value that sets it)."""
    field = next(field for field in _register(registers, name).fields if field.name == field_name)
    return ((1 << field.width) - 1) << field.bit


def markdown(registers):
    """The map as a Markdown table (docs/spec.md section 12 holds the defaults' tables)."""
    lines = ["| address | register | bits | field | access | reset | meaning |", "|---|---|---|---|---|---|---|"]
    for register in registers:
        for field in register.fields:
            bits = f"{field.bit + field.width - 1}:{field.bit}" if field.width > 1 else f"{field.bit}"
            reset = "the build's" if register.name == "INFO" else f"0x{field.reset:X}"
            lines.append(f"| 0x{register.address:02X} | {register.name} | {bits} | {field.name} | {field.access} | "
                         f"{reset} | {field.description} |")
    return "\n".join(lines) + "\n"
