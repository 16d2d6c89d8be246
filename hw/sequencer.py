"""The control FSM shared by both generators (docs/spec.md section 7)."""
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .replayable import Control


class Sequencer(wiring.Component):
    """Counts the words of the current perturbation and drives the datapath's replay strobes.

    Ports: in `length` (words per perturbation, sampled when one (re)starts), `next`, `replay`, `ready` (of the
    output stream); out `valid`, `last`, `done`, `busy` and `control` (advance/save/restore, see `replayable`).

    The first cycle after reset, the cycle of a `replay` and the cycle that ends a skip each (re)start a
    perturbation ("begin"). A `next` turns on skipping (`busy`): the words not yet emitted are advanced over, one
    per cycle, and the cycle after the last one saves the position as the start of the next perturbation. A
    `replay` restores the saved start. While busy, `next` and `replay` are ignored (a replay then would restart
    the perturbation the skip is heading for, at the word it is heading for), as is a `next` in a begin cycle.

    Once elaborated, `registers` holds `remaining`, `primed` and `skipping`, for the formal proofs (sim/formal.py).
    Cost: length_bits + 2 FFs (`remaining`, `primed`, `skipping`), a length_bits decrementer and zero test.
    """

    def __init__(self, length_bits):
        super().__init__({
            "length": In(length_bits), "next": In(1), "replay": In(1), "ready": In(1),
            "valid": Out(1), "last": Out(1), "done": Out(1), "busy": Out(1), "control": Out(Control),
        })

    def elaborate(self, platform):
        m = Module()
        primed = Signal()  # low only in the first cycle after reset, while the memories fetch
        skipping = Signal()
        remaining = Signal(len(self.length))
        self.registers = {"remaining": remaining, "primed": primed, "skipping": skipping}

        emitting = primed & ~skipping
        restore = self.replay & ~skipping
        save = skipping & (remaining == 0)
        advance = ((self.valid & self.ready) | (skipping & (remaining != 0))) & ~restore
        m.d.comb += [
            self.valid.eq(emitting & (remaining != 0)),
            self.last.eq(remaining == 1),
            self.done.eq(emitting & (remaining == 0)),
            self.busy.eq(skipping),
            self.control.advance.eq(advance),
            self.control.save.eq(save),
            self.control.restore.eq(restore),
        ]

        m.d.sync += primed.eq(1)
        with m.If(~primed | restore | save):
            m.d.sync += [remaining.eq(self.length), skipping.eq(0)]
        with m.Else():
            with m.If(advance):
                m.d.sync += remaining.eq(remaining - 1)
            with m.If(self.next):
                m.d.sync += skipping.eq(1)
        return m
