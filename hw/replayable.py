"""Replayable state: registers that step once per word and keep a shadow copy for `replay`.

The sequencer drives three strobes (`Control`): `advance` moves the state on by one word, `save` copies it into
the shadow (a new perturbation starts here) and `restore` copies the shadow back (the perturbation starts again).
The sequencer raises at most one of them per cycle. A block also gets its register's next value, so a synchronous
memory addressed by it presents the data of the current state in the same cycle as the register.
"""
import collections

from amaranth.hdl import Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

Control = wiring.Signature({"advance": Out(1), "save": Out(1), "restore": Out(1)})


Register = collections.namedtuple("Register", "value following shadow")


def replayable(m, control, shape, init, step, name):
    """A register of `shape` starting at `init`, moving to `step(value)` on advance; returns a Register: its
    value, its next value and its shadow.

    Cost: 2 FFs per bit (register and shadow) and a 2:1 restore multiplexer per bit in front of the step logic;
    holding uses the flip-flops' clock enable.
    """
    value = Signal(shape, init=init, name=name)
    shadow = Signal(shape, init=init, name=f"{name}_shadow")
    following = Signal(shape, name=f"{name}_next")
    with m.If(control.restore):
        m.d.comb += following.eq(shadow)
    with m.Elif(control.advance):
        m.d.comb += following.eq(step(value))
    with m.Else():
        m.d.comb += following.eq(value)
    m.d.sync += value.eq(following)
    with m.If(control.save):
        m.d.sync += shadow.eq(value)
    return Register(value, following, shadow)
