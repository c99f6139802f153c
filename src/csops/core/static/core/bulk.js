// A list page with bulk actions: the header checkbox selects or clears every row on the page.
// Without JavaScript the rows are selected one by one, so the checkbox stays hidden.
(() => {
  const all = document.getElementById("select-all");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll('input[type="checkbox"][name="selected"]'));
  const sync = () => {
    const checked = boxes().filter((box) => box.checked).length;
    all.checked = checked > 0 && checked === boxes().length;
    all.indeterminate = checked > 0 && checked < boxes().length;
  };
  all.hidden = false;
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
  });
  boxes().forEach((box) => box.addEventListener("change", sync));
  sync();
})();
