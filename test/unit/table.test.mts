import { describe, expect, it } from 'vitest';
import { formatTable } from '../../lib/report/table.mts';

describe('formatTable', () => {
  it('pads every column to its widest cell, two spaces apart, with no trailing blanks', () => {
    expect(
      formatTable([
        ['product', 'total'],
        ['clock', '1.2'],
        ['a', '10.25'],
      ]),
    ).toEqual(['product  total', 'clock    1.2', 'a        10.25']);
  });

  it('right-aligns where asked, keeps minimum widths and indents', () => {
    expect(
      formatTable(
        [
          ['web', 'keep', 'unchanged'],
          ['worker', 'replace', 'x changed'],
        ],
        { minWidths: [1, 7], indent: '  ' },
      ),
    ).toEqual(['  web     keep     unchanged', '  worker  replace  x changed']);
    expect(
      formatTable(
        [
          ['a', '5'],
          ['bb', '10'],
        ],
        { align: ['left', 'right'] },
      ),
    ).toEqual(['a    5', 'bb  10']);
    expect(formatTable([['x', 'keep', 'r']], { minWidths: [1, 7] })).toEqual(['x  keep     r']);
    expect(formatTable([])).toEqual([]);
  });
});
