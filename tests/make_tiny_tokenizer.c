/* Writes a small byte-level BPE tokenizer.json (ids < 320) for CLI tests of
 * text input on the tiny golden models (vocabulary 512): the 256 byte tokens,
 * a few merges, the ChatML special tokens at 300 and 301, and filler tokens
 * up to id 511.
 *   make_tiny_tokenizer OUT.json */
#include <stdio.h>

#include "tokenizer/byte_level.h"

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 1;
    struct byte_level bl;
    byte_level_init(&bl);
    fputs("{\"version\":\"1.0\",\"added_tokens\":[", f);
    fputs("{\"id\":300,\"content\":\"<|im_start|>\",\"special\":true,\"lstrip\":false,\"rstrip\":false,"
          "\"normalized\":false,\"single_word\":false},",
          f);
    fputs("{\"id\":301,\"content\":\"<|im_end|>\",\"special\":true,\"lstrip\":false,\"rstrip\":false,"
          "\"normalized\":false,\"single_word\":false}],",
          f);
    fputs("\"normalizer\":{\"type\":\"NFC\"},\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
          "\"use_regex\":true},\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{",
          f);
    for (int b = 0; b < 256; b++) {
        unsigned char c[3] = {0};
        for (int i = 0; i < bl.utf8_len[b]; i++) c[i] = (unsigned char)bl.utf8[b][i];
        if (c[0] == '"' || c[0] == '\\')
            fprintf(f, "\"\\%c\":%d,", c[0], b);
        else
            fprintf(f, "\"%s\":%d,", (char *)c, b);
    }
    /* "He", "ll", "llo" and "Ġw" (space + w). */
    /* Fillers so that every id a 512-token model can emit decodes. */
    for (int id = 260; id < 512; id++)
        if (id != 300 && id != 301) fprintf(f, "\"tok%d\":%d,", id, id);
    fputs("\"He\":256,\"ll\":257,\"llo\":258,\"\xc4\xa0w\":259},\"merges\":[\"H e\",\"l l\",\"ll o\",\"\xc4\xa0 w\"]}}",
          f);
    return fclose(f) ? 1 : 0;
}
