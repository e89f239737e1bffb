import { forgetStudyMetadata, sideBySideViewports, stdOverlayOptions, SYNC_GROUP_ID } from './ohifAdapter';

describe('side-by-side layout', () => {
  it('source | result (+ std fused) in volume viewports sharing one camera sync group', () => {
    const [left, right] = sideBySideViewports({
      sourceUid: 'src',
      resultUid: 'res',
      stdUid: 'std',
      stdWindow: { center: 20, width: 40 },
      toolGroupId: 'tg',
    });
    expect(left.displaySetInstanceUIDs).toEqual(['src']);
    expect(right.displaySetInstanceUIDs).toEqual(['res', 'std']);
    for (const v of [left, right]) {
      expect(v.viewportOptions).toMatchObject({
        viewportType: 'volume',
        orientation: 'axial',
        toolGroupId: 'tg',
      });
      expect(v.viewportOptions.syncGroups).toEqual([
        { type: 'cameraPosition', id: SYNC_GROUP_ID, source: true, target: true },
      ]);
    }
    expect(right.displaySetOptions[1]).toEqual(stdOverlayOptions({ center: 20, width: 40 }));
    const [, plain] = sideBySideViewports({ sourceUid: 'src', resultUid: 'res' });
    expect(plain.displaySetInstanceUIDs).toEqual(['res']);
  });

  it('the std overlay is transparent at zero uncertainty and opaque-ish over the window', () => {
    const o = stdOverlayOptions({ center: 20, width: 40 }) as {
      colormap: { opacity: { value: number; opacity: number }[] };
      voi: { windowCenter: number; windowWidth: number };
    };
    expect(o.colormap.opacity).toEqual([
      { value: 0, opacity: 0 },
      { value: 4, opacity: 0.6 },
      { value: 40, opacity: 0.6 },
    ]);
    expect(o.voi).toEqual({ windowCenter: 20, windowWidth: 40 });
  });
});

describe('study metadata cache', () => {
  it('drops both keys OHIF 3.13 may hold a study under', () => {
    const deleted: string[] = [];
    forgetStudyMetadata(
      { getConfig: () => ({ name: 'pacs' }), deleteStudyMetadataPromise: (k) => void deleted.push(k) },
      '1.2.3',
    );
    expect(deleted).toEqual(['1.2.3', 'pacs:1.2.3']);
  });
});
