#include "tokenizer/byte_level.h"

#include <string.h>

static int printable(int b)
{
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

void byte_level_init(struct byte_level *b)
{
    memset(b->to_byte, 0xff, sizeof b->to_byte);
    uint32_t next = 256;
    for (int byte = 0; byte < 256; byte++) {
        uint32_t cp = printable(byte) ? (uint32_t)byte : next++;
        b->to_char[byte] = cp;
        b->to_byte[cp] = (int16_t)byte;
        if (cp < 0x80) {
            b->utf8[byte][0] = (char)cp;
            b->utf8_len[byte] = 1;
        } else { /* all code points here are < 0x800: two bytes */
            b->utf8[byte][0] = (char)(0xC0 | (cp >> 6));
            b->utf8[byte][1] = (char)(0x80 | (cp & 0x3F));
            b->utf8_len[byte] = 2;
        }
    }
}
