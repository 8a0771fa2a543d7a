/** 16550A register offsets and bits (PC16550D data sheet; Linux include/uapi/linux/serial_reg.h). */

export const REG_DATA = 0; // RBR (read) / THR (write); DLL when DLAB
export const REG_IER = 1; // DLM when DLAB
export const REG_IIR_FCR = 2; // IIR (read) / FCR (write)
export const REG_LCR = 3;
export const REG_MCR = 4;
export const REG_LSR = 5;
export const REG_MSR = 6;
export const REG_SCR = 7;
export const UART_PORT_COUNT = 8;

export const IER_RDI = 0x01; // received data available
export const IER_THRI = 0x02; // transmitter holding register empty
export const IER_RLSI = 0x04; // receiver line status
export const IER_MSI = 0x08; // modem status
export const IER_MASK = 0x0f;

export const IIR_NO_INT = 0x01;
export const IIR_MSI = 0x00;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
/** Both bits set: FIFOs enabled (what makes Linux identify a 16550A). */
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_ENABLE_FIFO = 0x01;
export const FCR_CLEAR_RCVR = 0x02;
export const FCR_CLEAR_XMIT = 0x04;
export const FCR_TRIGGER_MASK = 0xc0;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

export const LSR_DR = 0x01; // data ready
export const LSR_OE = 0x02; // overrun error
export const LSR_THRE = 0x20; // THR empty
export const LSR_TEMT = 0x40; // transmitter empty

export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
export const MSR_DELTA_MASK = 0x0f;

/** Divisor for 115200 baud from the 1.8432 MHz clock: what firmware leaves programmed. */
export const DEFAULT_DIVISOR = 1;
/** The hardware FIFO depth a 16550A has; the model's receive buffer is larger (see RxBuffer). */
export const HW_FIFO_SIZE = 16;
