"""The one way pezo writes a component as Verilog (`emit`), and the module names that Verilog may carry.

Every Verilog file pezo writes or synthesises (export, the AXI IP, the Vivado flow, the engine's simulation, the
Yosys estimates) comes from `emit`: Amaranth's Verilog back end, without source locations, so that the text depends
on the design alone.

Verilator reads `.v` files as SystemVerilog by default, so SystemVerilog's keywords (IEEE 1800-2017, Annex B) are
reserved too, besides Verilog's (IEEE 1364-2005, Annex B); `pezo_harness` is the simulation harness's own name.
"""
import re

from amaranth.back.verilog import convert

VERILOG_2005 = """
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable
endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
input instance integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0
tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
"""
SYSTEMVERILOG = """
accept_on alias always_comb always_ff always_latch assert assume before bind bins binsof bit break byte chandle
checker class clocking const constraint context continue cover covergroup coverpoint cross dist do endchecker
endclass endclocking endgroup endinterface endpackage endprogram endproperty endsequence enum eventually expect
export extends extern final first_match foreach forkjoin global iff ignore_bins illegal_bins implements implies
import inside int interconnect interface intersect join_any join_none let local logic longint matches modport
nettype new nexttime null package packed priority program property protected pure rand randc randcase
randsequence ref reject_on restrict return s_always s_eventually s_nexttime s_until s_until_with sequence
shortint shortreal soft solve static string strong struct super sync_accept_on sync_reject_on tagged this
throughout timeprecision timeunit type typedef union unique unique0 until until_with untyped var virtual void
wait_order weak wildcard with within
"""
RESERVED = frozenset(VERILOG_2005.split()) | frozenset(SYSTEMVERILOG.split()) | {"pezo_harness"}


def check_module_name(name):
    """`name` if it can name the top module, else a ValueError naming it and what is allowed."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", name):
        raise ValueError(f"name={name!r} is not a plain Verilog identifier: allowed a letter or _ followed by "
                         f"letters, digits and _, 200 characters at most (file names hold it)")
    if name in RESERVED:
        raise ValueError(f"name={name!r} is a reserved word of Verilog or SystemVerilog (or the harness's name): "
                         f"give another module name")
    return name


def emit(component, name):
    """Verilog text of `component` as the top module `name` (checked by `check_module_name`)."""
    return convert(component, name=check_module_name(name), emit_src=False)
