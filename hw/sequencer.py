"""The control FSM shared by both generators (docs/spec.md section 7)."""
from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .replayable import Control


class Sequencer(wiring.Component):
    """Counts the words of the current perturbation and drives the datapath's replay strobes.

    Ports: in `length` (words per perturbation, sampled when one (re)starts), `next`, `replay`, `ready` (of the
    output stream); out `valid`, `last`, `done`, `busy` and `control` (advance/save/restore, see `replayable`).
    With `hop_bits` also in `hop`: a `next` skips `hop` words more than are left (its count grows by `hop`).
    With `reloads` (a datapath that rebuilds its state after a restore, hw/reload_array.py) also in `reloading`:
    while it is high no strobe is raised and `busy` is high; a `replay` in the first cycle is ignored then (there
    is nothing to restore, and a reload would only make the generator busy).

    The first cycle after reset, the cycle of a `replay` and the cycle that ends a skip each (re)start a
    perturbation ("begin"). A `next` turns on skipping (`busy`): the words not yet emitted are advanced over, one
    per cycle, and the cycle after the last one saves the position as the start of the next perturbation. A
    `replay` restores the saved start. While busy (skipping or reloading), `next` and `replay` are ignored (a
    replay then would restart the perturbation the skip is heading for, at the word it is heading for), as is a
    `next` in a begin cycle.

    Once elaborated, `registers` holds `count`, `primed` and `skipping`, for the formal proofs (sim/formal.py).

    The words left are kept as `count` = remaining - 1, signed, so that "none left" is its sign bit (no logic) and
    "one left" is the borrow of the decrement the counter needs anyway (a carry chain): no wide zero test limits
    the clock.
    Cost: length_bits + 3 FFs (`count`, `primed`, `skipping`), two length_bits carry chains (the decrement and
    length - 1) and a few LUTs; a hop input widens `count` to max(length_bits, hop_bits) + 2 bits and adds one
    carry chain (count + hop).
    """

    def __init__(self, length_bits, reloads=False, hop_bits=0):
        self._reloads, self._hops = reloads, bool(hop_bits)
        super().__init__({
            "length": In(length_bits), "next": In(1), "replay": In(1), "ready": In(1),
            "valid": Out(1), "last": Out(1), "done": Out(1), "busy": Out(1), "control": Out(Control),
            **({"reloading": In(1)} if reloads else {}),
            **({"hop": In(hop_bits)} if hop_bits else {}),
        })

    def elaborate(self, platform):
        m = Module()
        primed = Signal()  # low only in the first cycle after reset, while the memories fetch
        skipping = Signal()
        count_bits = max(len(self.length), len(self.hop)) + 2 if self._hops else len(self.length) + 1
        count = Signal(signed(count_bits))              # words left - 1
        self.registers = {"count": count, "primed": primed, "skipping": skipping}

        decremented = count - 1
        empty = count[-1]
        reloading = self.reloading if self._reloads else Const(0)
        busy = skipping | reloading
        emitting = primed & ~busy
        restore = self.replay & ~busy & (primed if self._reloads else 1)
        save = skipping & empty
        advance = ((self.valid & self.ready) | (skipping & ~empty)) & ~restore
        m.d.comb += [
            self.valid.eq(emitting & ~empty),
            self.last.eq(~empty & decremented[-1]),
            self.done.eq(emitting & empty),
            self.busy.eq(busy),
            self.control.advance.eq(advance),
            self.control.save.eq(save),
            self.control.restore.eq(restore),
        ]

        begin = ~primed | restore | save
        m.d.sync += primed.eq(1)
        if self._hops:                                   # a taken next adds hop to what is left after this cycle
            hopping = self.next & ~busy & ~begin
            with m.If(begin):
                m.d.sync += count.eq(self.length - 1)
            with m.Elif(hopping):
                m.d.sync += count.eq(Mux(advance, decremented, count) + self.hop)
            with m.Elif(advance):
                m.d.sync += count.eq(decremented)
        else:
            with m.If(begin | advance):                  # the counter's clock enable
                m.d.sync += count.eq(Mux(begin, self.length - 1, decremented))
        with m.If(begin):
            m.d.sync += skipping.eq(0)
        with m.Elif(self.next & ~reloading):
            m.d.sync += skipping.eq(1)
        return m
