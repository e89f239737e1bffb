/** Canvases that draw slices and progress previews (RGBA from HU with a window and colour map). */
import * as React from 'react';
import { type PreviewImage } from '../jobState';
import { GREY, toRgba, type ColourMap, type Slice, type Window } from '../preview';
import { NotForDiagnosticUse } from './notices';

export function PreviewCanvas(props: {
  readonly preview: PreviewImage;
  readonly toRgba: (data: Float32Array) => Uint8ClampedArray;
}): React.ReactElement {
  const { preview } = props;
  return (
    <RgbaCanvas
      width={preview.width}
      height={preview.height}
      rgba={props.toRgba(preview.data)}
      aspect={preview.width / preview.height}
      label="Preview of the current estimate (middle slice)"
    />
  );
}

export function RgbaCanvas(props: {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8ClampedArray;
  readonly aspect: number;
  readonly label: string;
}): React.ReactElement {
  const ref = React.useRef<HTMLCanvasElement | null>(null);
  React.useEffect(() => {
    const canvas = ref.current;
    const ctx = canvas?.getContext('2d');
    if (!canvas || !ctx || props.width <= 0 || props.height <= 0) return;
    const image = ctx.createImageData(props.width, props.height);
    image.data.set(props.rgba);
    ctx.putImageData(image, 0, 0);
  }, [props.rgba, props.width, props.height]);
  return (
    <div className="gldm-view">
      {/* above the image, not over it: the notice must not hide anatomy */}
      <NotForDiagnosticUse />
      <canvas
        ref={ref}
        width={props.width}
        height={props.height}
        role="img"
        aria-label={props.label}
        style={{ aspectRatio: String(props.aspect) }}
      />
    </div>
  );
}

export function SliceCanvas(props: {
  readonly slice: Slice;
  readonly window: Window;
  readonly colour?: ColourMap;
  readonly label: string;
}): React.ReactElement {
  const { slice } = props;
  const rgba = React.useMemo(
    () => toRgba(slice.data, props.window, props.colour ?? GREY),
    [slice, props.window, props.colour],
  );
  return (
    <RgbaCanvas
      width={slice.width}
      height={slice.height}
      rgba={rgba}
      aspect={(slice.width * slice.pixelMm[0]) / (slice.height * slice.pixelMm[1])}
      label={props.label}
    />
  );
}
