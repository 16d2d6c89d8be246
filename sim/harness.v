// Simulation harness for a pezo generator (Verilog-2005, for Icarus and Verilator).
// It makes its own 100 MHz clock, draws ready at random from a seeded xorshift32 with probability
// ready_chance / 65536, allows at most a loaded budget of transfers, and writes every transferred payload as one
// hex line to the file named by the +dump=<path> plusarg (and waves to +waves=<path>). The testbench only loads
// budgets and pulses controls; the HDL does all per-cycle work. A generator with a hop input is built with
// PEZO_HOP defined and HOP_BITS its width.
`timescale 1ns/1ps
module pezo_harness #(
    parameter PAYLOAD_BITS = 8,
    parameter LENGTH_BITS = 32,
    parameter HOP_BITS = 1
) (
    input  wire                   rst,
    input  wire [LENGTH_BITS-1:0] length,
    input  wire                   next,
    input  wire                   replay,
    input  wire [HOP_BITS-1:0]    hop,
    input  wire [31:0]            budget_in,
    input  wire                   budget_load,
    input  wire [16:0]            ready_chance,
    input  wire [31:0]            ready_seed,
    input  wire                   flush,
    output wire                   idle,
    output wire                   done,
    output wire                   busy,
    output reg  [31:0]            transfers
);
    localparam PADDED_BITS = (PAYLOAD_BITS + 7) / 8 * 8;

    reg                     clk;
    wire [PAYLOAD_BITS-1:0] payload;
    wire                    valid;
    reg  [31:0]             budget;
    reg  [31:0]             random;
    wire                    ready = (budget != 0) && ({1'b0, random[15:0]} < ready_chance);
    wire [PADDED_BITS-1:0]  padded = payload;
    wire                    fire = valid && ready && !rst;

    `PEZO_DUT dut (
        .clk(clk), .rst(rst),
        .o__payload(payload), .o__valid(valid), .o__ready(ready),
`ifdef PEZO_HOP
        .hop(hop),
`endif
        .length(length), .next(next), .replay(replay), .done(done), .busy(busy)
    );

    assign idle = budget == 0;

    integer dump_file;
    reg [8*1024-1:0] dump_path, waves_path;
    initial begin
        clk = 0;
        budget = 0;
        transfers = 0;
        random = 32'h1;
        dump_file = 0;
        if ($value$plusargs("dump=%s", dump_path))
            dump_file = $fopen(dump_path, "w");
        if ($value$plusargs("waves=%s", waves_path)) begin
            $dumpfile(waves_path);
            $dumpvars(0, pezo_harness);
        end
    end

    always #5 clk = !clk;

    always @(posedge clk) begin
        if (rst)
            random <= ready_seed | 32'h1;
        else
            random <= xorshift32(random);
        if (budget_load)
            budget <= budget_in;
        else if (fire)
            budget <= budget - 1;
        if (fire) begin
            transfers <= transfers + 1;
            if (dump_file != 0)
                $fwrite(dump_file, "%h\n", padded);
        end
        if (flush && dump_file != 0)
            $fflush(dump_file);
    end

    function [31:0] xorshift32(input [31:0] x);
        reg [31:0] y;
        begin
            y = x ^ (x << 13);
            y = y ^ (y >> 17);
            xorshift32 = y ^ (y << 5);
        end
    endfunction
endmodule
